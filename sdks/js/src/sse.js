// Server-Sent Events, parsed from text chunks (the fetch transport).

/**
 * An incremental Server-Sent Events parser (the WHATWG rules): feed it text chunks, it calls
 * `onEvent({event, data, id})` per dispatched event and `onRetry(ms)` per `retry:` field.
 * Comments (`: heartbeat`) are ignored, but every chunk counts as activity for the caller.
 */
export function createSseParser(onEvent, onRetry = () => {}) {
  let buffer = '';
  let data = [];
  let event = '';
  let lastId = '';
  let first = true;
  let pendingCR = false;

  function line(text) {
    if (text === '') {
      if (data.length) onEvent({ event: event || 'message', data: data.join('\n'), id: lastId });
      data = [];
      event = '';
      return;
    }
    if (text[0] === ':') return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id') { if (!value.includes('\0')) lastId = value; }
    else if (field === 'retry') { if (/^\d+$/.test(value)) onRetry(Number(value)); }
  }

  return {
    push(chunk) {
      if (first && chunk.length) {
        if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
        first = false;
      }
      if (pendingCR && chunk[0] === '\n') chunk = chunk.slice(1);
      pendingCR = false;
      buffer += chunk;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer[i];
        if (c === '\n' || c === '\r') {
          line(buffer.slice(start, i));
          if (c === '\r') {
            if (i + 1 === buffer.length) pendingCR = true;
            else if (buffer[i + 1] === '\n') i++;
          }
          start = i + 1;
        }
      }
      buffer = buffer.slice(start);
    },
    get lastEventId() { return lastId; },
  };
}

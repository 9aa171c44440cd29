// The context as the client stream URL carries it.

/** base64url of UTF-8 JSON, as `GET /sdk/v1/client/stream?context=` expects. Throws for a
 * context that JSON cannot represent (a cycle, a BigInt); the client checks first. */
export function encodeContext(context) {
  return base64url(JSON.stringify(context));
}

/** base64url of a text's UTF-8 bytes. */
export function base64url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// Where the SDK runs: the only environment check, so that the same code loads in a page and in Node.

export const isNode = () =>
  typeof process !== 'undefined' && process !== null && !!(process.versions && process.versions.node);

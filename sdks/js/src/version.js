// The SDK's version, sent to the server with every request (tests/packaging checks it).

export const SDK_VERSION = '0.1.0';
export const SDK_HEADERS = { 'X-LaunchSequence-SDK': 'js/0.1.0' };

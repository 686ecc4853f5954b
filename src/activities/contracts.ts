// Moved to src/contracts/ (the protocol orchestrators and activities share). Re-exported while branches that still
// import this path are merged; new code imports ../contracts/index.js.
export * from '../contracts/index.js';

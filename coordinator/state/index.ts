export { HEAD_FILE, headPath, readHead, writeHead, type ChainHead, type HeadRead } from './state-head.js';
export { CHAIN_TABLE, GENESIS_HASH, appendEvents, createChainTable, type LedgerEvent } from './ledger-chain.js';
export { inspectState, STATE_TABLES, type StateReport } from './verify-state.js';
export { stateRefused } from './state-error.js';
export { checkCoordinatorState, type StateCheck } from './check-state.js';

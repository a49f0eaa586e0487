export * from './errors';
export * from './log';
export * from './paths';
export * from './status';
export * from './model';
export * from './config/types';
export { assertApproved, discoverServers, findServer, serverToActOn } from './config/discover';
export { serverKey } from './store/key';
export {
  openStore,
  FileStore,
  KeychainStore,
  keychainService,
  keychainAccount,
  type StoreBackend,
} from './store/backend';
export type { TokenEntry, StoreData, StoreSnapshot } from './store/types';
export { readCache, removeCacheEntries, ttlFor, isFresh, type CacheEntry } from './cache/needsAuthCache';
export {
  acquireLock,
  inspectLock,
  refreshLock,
  refreshLockName,
  storageLock,
  lockDirOf,
  ownerFileOf,
  type LockHolderInfo,
} from './lock/lock';
export { liveSessions, readLiveSessions, type SessionRecord, type SessionDeps } from './sessions';
export { sessionsLacking, type LackingSession, type ReconnectFix } from './lacking';

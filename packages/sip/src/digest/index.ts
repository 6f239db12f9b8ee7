// SIP Digest authentication (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760). See README.md.
export {
  DIGEST_ALGORITHMS,
  algorithmHash,
  algorithmStrength,
  computeHA1,
  computeResponse,
  computeSessionHA1,
  digestHash,
  digestHexLength,
  formatNonceCount,
  hashBody,
  isAlgorithmSupported,
  isSessionAlgorithm,
  parseAlgorithm,
} from './algorithms.js';
export type { DigestAlgorithm, DigestHash, DigestQop, ResponseParams } from './algorithms.js';

export {
  DigestParseError,
  formatChallenge,
  formatCredentials,
  parseAuthHeader,
  parseChallenge,
  parseCredentials,
  quoteString,
} from './parse-auth.js';
export type {
  AuthHeaderValue,
  AuthParam,
  DigestChallenge,
  DigestCredentials,
  DigestParseErrorCode,
} from './parse-auth.js';

export { NONCE_LENGTH, createNonce, verifyNonce } from './nonce.js';
export type { NonceCheck, NonceSecret } from './nonce.js';

export { MemoryNonceCountStore } from './nonce-count-store.js';
export type { MemoryNonceCountStoreOptions, NonceCountStore } from './nonce-count-store.js';

export { DigestServer } from './server.js';
export type {
  DigestFailureReason,
  DigestServerOptions,
  DigestVerifyResult,
  GetHA1,
  VerifyParams,
} from './server.js';

export { answerChallenge, buildCredentials, generateCnonce, selectChallenges } from './answer.js';
export type {
  AnswerChallengeParams,
  DigestAnswer,
  DigestCredentialSource,
  RequestInfo,
  SelectedChallenge,
} from './answer.js';

export { DigestClient } from './client.js';
export type {
  AuthorizationHeader,
  AuthorizationHeaderName,
  ChallengeOutcome,
  DigestClientOptions,
  DigestSession,
  OnChallengeOptions,
} from './client.js';

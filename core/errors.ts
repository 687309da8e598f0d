// The errors the protocol raises: AcmeError for the CA's problem documents (RFC 7807, RFC 8555 §6.7), kept whole,
// and UnexpectedResponseError for answers that break the protocol, so that neither is ever flattened into a string.

import type { Identifier } from './names.ts';

/** RFC 8555 §6.7 error types, plus the ones later ACME extensions registered. */
export const ACME_ERROR = {
  /** §7.3.1: onlyReturnExisting found no account for the key. */
  accountDoesNotExist: 'urn:ietf:params:acme:error:accountDoesNotExist',
  /** §7.6 */
  alreadyRevoked: 'urn:ietf:params:acme:error:alreadyRevoked',
  /** §7.4: the CSR in finalize is unacceptable. */
  badCSR: 'urn:ietf:params:acme:error:badCSR',
  /** §6.5: retried with the nonce from the error response. */
  badNonce: 'urn:ietf:params:acme:error:badNonce',
  badPublicKey: 'urn:ietf:params:acme:error:badPublicKey',
  badRevocationReason: 'urn:ietf:params:acme:error:badRevocationReason',
  /** §6.2: the error carries an `algorithms` array. */
  badSignatureAlgorithm: 'urn:ietf:params:acme:error:badSignatureAlgorithm',
  caa: 'urn:ietf:params:acme:error:caa',
  /** §6.7.1: the details are in `subproblems`. */
  compound: 'urn:ietf:params:acme:error:compound',
  connection: 'urn:ietf:params:acme:error:connection',
  dns: 'urn:ietf:params:acme:error:dns',
  /** §7.3.4 */
  externalAccountRequired: 'urn:ietf:params:acme:error:externalAccountRequired',
  incorrectResponse: 'urn:ietf:params:acme:error:incorrectResponse',
  invalidContact: 'urn:ietf:params:acme:error:invalidContact',
  malformed: 'urn:ietf:params:acme:error:malformed',
  /** §7.4 */
  orderNotReady: 'urn:ietf:params:acme:error:orderNotReady',
  /** §6.6: usually with Retry-After. */
  rateLimited: 'urn:ietf:params:acme:error:rateLimited',
  rejectedIdentifier: 'urn:ietf:params:acme:error:rejectedIdentifier',
  serverInternal: 'urn:ietf:params:acme:error:serverInternal',
  tls: 'urn:ietf:params:acme:error:tls',
  unauthorized: 'urn:ietf:params:acme:error:unauthorized',
  unsupportedContact: 'urn:ietf:params:acme:error:unsupportedContact',
  unsupportedIdentifier: 'urn:ietf:params:acme:error:unsupportedIdentifier',
  /** §7.3.3: the `instance` URL says what the user must do, e.g. agree to new terms. */
  userActionRequired: 'urn:ietf:params:acme:error:userActionRequired',
  /** RFC 9773 §5: the certificate named in `replaces` was already replaced. */
  alreadyReplaced: 'urn:ietf:params:acme:error:alreadyReplaced',
  /** draft-ietf-acme-profiles: the requested profile is unknown to the CA. */
  invalidProfile: 'urn:ietf:params:acme:error:invalidProfile',
} as const;

export type AcmeErrorType = (typeof ACME_ERROR)[keyof typeof ACME_ERROR];

/** An RFC 7807 problem document with the RFC 8555 §6.7 fields; any other field the CA sent is kept as it came. */
export interface Problem {
  type: string;
  detail?: string;
  status?: number;
  instance?: string;
  subproblems?: Subproblem[];
  identifier?: Identifier;
  [field: string]: unknown;
}

/** §6.7.1: a subproblem is a problem document of its own, usually naming the identifier it is about. */
export type Subproblem = Problem;

export interface AcmeErrorInit {
  problem: Problem;
  /** The HTTP status of the response that carried the problem (or of the resource that held it). */
  status: number;
  /** The URL the problem came from. */
  url: string;
  retryAfter?: Date;
  /** The identifier the problem is about; defaults to the problem's own. */
  identifier?: Identifier;
  cause?: unknown;
}

/** A problem the CA reported, with its document whole. */
export class AcmeError extends Error {
  override name = 'AcmeError';
  readonly problem: Problem;
  readonly status: number;
  readonly url: string;
  readonly retryAfter?: Date;
  readonly identifier?: Identifier;

  constructor(message: string, init: AcmeErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.problem = init.problem;
    this.status = init.status;
    this.url = init.url;
    if (init.retryAfter) this.retryAfter = init.retryAfter;
    const identifier = init.identifier ?? init.problem.identifier;
    if (identifier) this.identifier = identifier;
  }
}

/** The CA answered something RFC 8555 does not allow (wrong content type, oversized body, a bad token, a certificate that is not ours). */
export class UnexpectedResponseError extends Error {
  override name = 'UnexpectedResponseError';
  readonly url: string;
  readonly status?: number;

  constructor(message: string, url: string, status?: number) {
    super(message);
    this.url = url;
    if (status !== undefined) this.status = status;
  }
}

function isIdentifier(value: unknown): value is Identifier {
  return typeof value === 'object' && value !== null
    && typeof (value as Identifier).type === 'string' && typeof (value as Identifier).value === 'string';
}

/**
 * Reads a problem document, keeping every field. A body that is not one (an HTML error page, say) becomes
 * RFC 7807 §4.2's "about:blank" problem, whose meaning is the HTTP status alone.
 */
export function parseProblem(body: unknown, status: number, fallbackDetail: string): Problem {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || typeof (body as Problem).type !== 'string') {
    return { type: 'about:blank', detail: fallbackDetail, status };
  }
  const problem = { ...(body as Problem) };
  if (problem.detail !== undefined && typeof problem.detail !== 'string') problem.detail = JSON.stringify(problem.detail);
  if (problem.identifier !== undefined && !isIdentifier(problem.identifier)) delete problem.identifier;
  if (problem.subproblems !== undefined) {
    problem.subproblems = Array.isArray(problem.subproblems)
      ? problem.subproblems.filter((sub): sub is Subproblem => typeof sub === 'object' && sub !== null && typeof sub.type === 'string')
      : [];
  }
  return problem;
}

function describeIdentifier(identifier: Identifier | undefined): string {
  return identifier ? ` for ${identifier.value}` : '';
}

/** One line: the type, the identifier it is about, the CA's detail, then each subproblem the same way. */
export function formatProblem(problem: Problem): string {
  let line = `${problem.type}${describeIdentifier(problem.identifier)}`;
  if (problem.detail) line += `: ${problem.detail}`;
  if (problem.subproblems?.length) line += ` (${problem.subproblems.map(formatProblem).join('; ')})`;
  return line;
}

/** Whether `error` is an AcmeError whose problem has this type. */
export function hasProblemType(error: unknown, type: string): error is AcmeError {
  return error instanceof AcmeError && error.problem.type === type;
}

export const isBadNonce = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.badNonce);
export const isRateLimited = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.rateLimited);
export const isAlreadyRevoked = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.alreadyRevoked);
export const isAccountDoesNotExist = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.accountDoesNotExist);
export const isExternalAccountRequired = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.externalAccountRequired);
export const isUserActionRequired = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.userActionRequired);
export const isOrderNotReady = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.orderNotReady);
export const isAlreadyReplaced = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.alreadyReplaced);

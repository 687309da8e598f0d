// The errors the protocol raises: AcmeError for the CA's problem documents (RFC 7807, RFC 8555 §6.7), kept whole,
// and UnexpectedResponseError for answers that break the protocol, so that neither is ever flattened into a string.

import type { Identifier } from './names.ts';

/**
 * RFC 8555 §6.7 error types, plus the ones later ACME extensions registered.
 *
 * @example
 * ```ts
 * import { ACME_ERROR, AcmeError } from "@acmets/acme-client";
 * function isCaa(error: unknown): boolean {
 *   return error instanceof AcmeError && error.problem.type === ACME_ERROR.caa;
 * }
 * ```
 */
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

/**
 * The URN of one of the ACME_ERROR types.
 *
 * @example
 * ```ts
 * import type { AcmeErrorType } from "@acmets/acme-client";
 * const type: AcmeErrorType = "urn:ietf:params:acme:error:rateLimited";
 * ```
 */
export type AcmeErrorType = (typeof ACME_ERROR)[keyof typeof ACME_ERROR];

/**
 * An RFC 7807 problem document with the RFC 8555 §6.7 fields; any other field the CA sent is kept as it came.
 *
 * @example
 * ```ts
 * import { parseProblem } from "@acmets/acme-client";
 * const problem = parseProblem({ type: "urn:ietf:params:acme:error:rejectedIdentifier", detail: "blocked" }, 400, "HTTP 400");
 * console.log(problem.type, problem.detail);
 * ```
 */
export interface Problem {
  /** A URN, e.g. "urn:ietf:params:acme:error:rateLimited" (see ACME_ERROR). */
  type: string;
  /** The CA's words for a person. */
  detail?: string;
  /** The HTTP status the CA says the problem has. */
  status?: number;
  /** A URL with more about this occurrence, e.g. what the user must do (§7.3.3). */
  instance?: string;
  /** Problems per identifier (§6.7.1). */
  subproblems?: Subproblem[];
  /** The identifier a subproblem is about. */
  identifier?: Identifier;
  /** Any other field, as the CA sent it. */
  [field: string]: unknown;
}

/**
 * §6.7.1: a subproblem is a problem document of its own, usually naming the identifier it is about.
 *
 * @example
 * ```ts
 * import { AcmeError } from "@acmets/acme-client";
 * function failedNames(error: AcmeError): string[] {
 *   return (error.problem.subproblems ?? []).flatMap((sub) => (sub.identifier ? [sub.identifier.value] : []));
 * }
 * ```
 */
export type Subproblem = Problem;

/**
 * What an AcmeError carries besides its message.
 *
 * @example
 * ```ts
 * import { AcmeError } from "@acmets/acme-client";
 * const error = new AcmeError("Cannot create order: rate limited", {
 *   problem: { type: "urn:ietf:params:acme:error:rateLimited", detail: "too many certificates" },
 *   status: 429, url: "https://ca.example/new-order", retryAfter: new Date(Date.now() + 3_600_000),
 * });
 * ```
 */
export interface AcmeErrorInit {
  /** The problem document, whole. */
  problem: Problem;
  /** The HTTP status of the response that carried the problem (or of the resource that held it). */
  status: number;
  /** The URL the problem came from. */
  url: string;
  /** When the CA's Retry-After says to come back. */
  retryAfter?: Date;
  /** The identifier the problem is about; defaults to the problem's own. */
  identifier?: Identifier;
  /** The error this one follows from. */
  cause?: unknown;
}

/**
 * A problem the CA reported, with its document whole.
 *
 * @example
 * ```ts
 * import { AcmeError, isRateLimited } from "@acmets/acme-client";
 * try {
 *   await work();
 * } catch (error) {
 *   if (error instanceof AcmeError) console.error(error.problem.type, error.problem.detail, error.retryAfter);
 *   if (isRateLimited(error)) console.error("try again after", error.retryAfter);
 * }
 * declare function work(): Promise<void>;
 * ```
 */
export class AcmeError extends Error {
  /** Always "AcmeError". */
  override name = 'AcmeError';
  /** The problem document, with every field the CA sent. */
  readonly problem: Problem;
  /** The HTTP status of the response that carried it. */
  readonly status: number;
  /** The URL the problem came from. */
  readonly url: string;
  /** When the CA's Retry-After says to come back. */
  readonly retryAfter?: Date;
  /** The identifier the problem is about. */
  readonly identifier?: Identifier;

  /** `message` is the line to show; the problem stays whole in `init`. */
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

/**
 * The CA answered something RFC 8555 does not allow (wrong content type, oversized body, a bad token, a certificate
 * that is not ours).
 *
 * @example
 * ```ts
 * import { UnexpectedResponseError } from "@acmets/acme-client";
 * try {
 *   await work();
 * } catch (error) {
 *   if (error instanceof UnexpectedResponseError) console.error(`the CA at ${error.url} broke the protocol: ${error.message}`);
 * }
 * declare function work(): Promise<void>;
 * ```
 */
export class UnexpectedResponseError extends Error {
  /** Always "UnexpectedResponseError". */
  override name = 'UnexpectedResponseError';
  /** The URL of the answer. */
  readonly url: string;
  /** Its HTTP status, when there was one. */
  readonly status?: number;

  /** `message` names what was wrong. */
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
 *
 * @example
 * ```ts
 * import { parseProblem } from "@acmets/acme-client";
 * parseProblem("<html>Bad Gateway</html>", 502, "HTTP 502 Bad Gateway");
 * // { type: "about:blank", detail: "HTTP 502 Bad Gateway", status: 502 }
 * ```
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

/**
 * One line: the type, the identifier it is about, the CA's detail, then each subproblem the same way.
 *
 * @example
 * ```ts
 * import { formatProblem } from "@acmets/acme-client";
 * formatProblem({
 *   type: "urn:ietf:params:acme:error:compound", detail: "2 names failed",
 *   subproblems: [{ type: "urn:ietf:params:acme:error:dns", identifier: { type: "dns", value: "b.example" }, detail: "NXDOMAIN" }],
 * });
 * // "urn:ietf:params:acme:error:compound: 2 names failed (urn:ietf:params:acme:error:dns for b.example: NXDOMAIN)"
 * ```
 */
export function formatProblem(problem: Problem): string {
  let line = `${problem.type}${describeIdentifier(problem.identifier)}`;
  if (problem.detail) line += `: ${problem.detail}`;
  if (problem.subproblems?.length) line += ` (${problem.subproblems.map(formatProblem).join('; ')})`;
  return line;
}

/**
 * Whether `error` is an AcmeError whose problem has this type.
 *
 * @example
 * ```ts
 * import { ACME_ERROR, hasProblemType } from "@acmets/acme-client";
 * const refusedCaa = (error: unknown) => hasProblemType(error, ACME_ERROR.caa);
 * ```
 */
export function hasProblemType(error: unknown, type: string): error is AcmeError {
  return error instanceof AcmeError && error.problem.type === type;
}

/**
 * Whether `error` is the CA's badNonce problem: the nonce was refused (§6.5); the transport already retries these.
 *
 * @example
 * ```ts
 * import { isBadNonce } from "@acmets/acme-client";
 * try {
 *   await work();
 * } catch (error) {
 *   if (!isBadNonce(error)) throw error;
 *   console.error("the CA kept refusing nonces");
 * }
 * declare function work(): Promise<void>;
 * ```
 */
export const isBadNonce = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.badNonce);

/**
 * Whether `error` is the CA's rateLimited problem: a rate limit was hit (§6.6); `retryAfter` says when to come back.
 *
 * @example
 * ```ts
 * import { isRateLimited } from "@acmets/acme-client";
 * try {
 *   await work();
 * } catch (error) {
 *   if (!isRateLimited(error)) throw error;
 *   console.error("retry after", error.retryAfter);
 * }
 * declare function work(): Promise<void>;
 * ```
 */
export const isRateLimited = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.rateLimited);

/**
 * Whether `error` is the CA's alreadyRevoked problem: the certificate was revoked before.
 *
 * @example
 * ```ts
 * import { isAlreadyRevoked } from "@acmets/acme-client";
 * try {
 *   await work();
 * } catch (error) {
 *   if (!isAlreadyRevoked(error)) throw error;
 *   console.error("already revoked");
 * }
 * declare function work(): Promise<void>;
 * ```
 */
export const isAlreadyRevoked = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.alreadyRevoked);

/**
 * Whether `error` is the CA's accountDoesNotExist problem: the CA has no account for the key (§7.3.1).
 *
 * @example
 * ```ts
 * import { isAccountDoesNotExist } from "@acmets/acme-client";
 * try {
 *   await work();
 * } catch (error) {
 *   if (!isAccountDoesNotExist(error)) throw error;
 *   console.error("no account for this key");
 * }
 * declare function work(): Promise<void>;
 * ```
 */
export const isAccountDoesNotExist = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.accountDoesNotExist);

/**
 * Whether `error` is the CA's externalAccountRequired problem: a new account needs external account binding (§7.3.4).
 *
 * @example
 * ```ts
 * import { isExternalAccountRequired } from "@acmets/acme-client";
 * try {
 *   await work();
 * } catch (error) {
 *   if (!isExternalAccountRequired(error)) throw error;
 *   console.error("ask the CA for an EAB key id and HMAC key");
 * }
 * declare function work(): Promise<void>;
 * ```
 */
export const isExternalAccountRequired = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.externalAccountRequired);

/**
 * Whether `error` is the CA's userActionRequired problem: a person must act first, e.g. agree to new terms;
 * `problem.instance` says where (§7.3.3).
 *
 * @example
 * ```ts
 * import { isUserActionRequired } from "@acmets/acme-client";
 * try {
 *   await work();
 * } catch (error) {
 *   if (!isUserActionRequired(error)) throw error;
 *   console.error("see", error.problem.instance);
 * }
 * declare function work(): Promise<void>;
 * ```
 */
export const isUserActionRequired = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.userActionRequired);

/**
 * Whether `error` is the CA's orderNotReady problem: the order was finalized before it was ready (§7.4).
 *
 * @example
 * ```ts
 * import { isOrderNotReady } from "@acmets/acme-client";
 * try {
 *   await work();
 * } catch (error) {
 *   if (!isOrderNotReady(error)) throw error;
 *   console.error("finalize after every authorization is valid");
 * }
 * declare function work(): Promise<void>;
 * ```
 */
export const isOrderNotReady = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.orderNotReady);

/**
 * Whether `error` is the CA's alreadyReplaced problem: the certificate named in `replaces` was already replaced (RFC
 * 9773 §5).
 *
 * @example
 * ```ts
 * import { isAlreadyReplaced } from "@acmets/acme-client";
 * try {
 *   await work();
 * } catch (error) {
 *   if (!isAlreadyReplaced(error)) throw error;
 *   console.error("order again without replaces");
 * }
 * declare function work(): Promise<void>;
 * ```
 */
export const isAlreadyReplaced = (error: unknown): error is AcmeError => hasProblemType(error, ACME_ERROR.alreadyReplaced);

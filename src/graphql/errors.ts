// Every failure the API reports has one code (mirrored by `enum ErrorCode` in schema/common.graphql)
// and one error class, so clients branch on `extensions.code` and never parse messages. The enum also
// holds the codes Apollo Server itself sends (parse, validation, APQ, operation resolution, bad
// request): test/graphql/error-codes.test.ts proves the SDL, this enum and what is sent agree.
import { HeaderMap } from '@apollo/server';
import { GraphQLError } from 'graphql';

export enum ErrorCode {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  QUERY_TOO_DEEP = 'QUERY_TOO_DEEP',
  QUERY_TOO_COSTLY = 'QUERY_TOO_COSTLY',
  FORBIDDEN = 'FORBIDDEN',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  GRAPHQL_PARSE_FAILED = 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED = 'GRAPHQL_VALIDATION_FAILED',
  BAD_REQUEST = 'BAD_REQUEST',
  /** Sent by Apollo Server: an automatic persisted query's hash is unknown (the client resends the text). */
  PERSISTED_QUERY_NOT_FOUND = 'PERSISTED_QUERY_NOT_FOUND',
  /** Sent by Apollo Server: `operationName` names no operation of the document (or several exist and none is named). */
  OPERATION_RESOLUTION_FAILURE = 'OPERATION_RESOLUTION_FAILURE',
  QUERY_TOO_LARGE = 'QUERY_TOO_LARGE',
  OPERATION_TOO_LARGE = 'OPERATION_TOO_LARGE',
  SERVER_BUSY = 'SERVER_BUSY',
  REQUEST_CANCELLED = 'REQUEST_CANCELLED',
  DATABASE_UNAVAILABLE = 'DATABASE_UNAVAILABLE',
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
}

/**
 * Base of the API's own errors. `httpStatus` is only for errors raised before execution (limits):
 * Apollo would apply it to the whole response, and a failed field must not turn a partial result into 4xx.
 */
export abstract class ApiError extends GraphQLError {
  constructor(message: string, code: ErrorCode, extensions: Record<string, unknown> = {}, httpStatus?: number) {
    super(message, { extensions: { code, ...extensions, ...(httpStatus ? { http: { status: httpStatus } } : {}) } });
    this.name = new.target.name;
  }
}

/** An argument is malformed or out of range. */
export class BadUserInputError extends ApiError {
  constructor(readonly argument: string, problem: string) {
    super(`Argument \`${argument}\` ${problem}`, ErrorCode.BAD_USER_INPUT, { argument });
  }
}

/**
 * PostgreSQL cannot be reached, refused or dropped the connection, is restarting, or did not answer
 * within the configured timeouts. Unlike other field errors this one sets the status of the whole
 * response (503, with Retry-After): a client's right move is the same whatever else succeeded.
 * The message never carries the database's own words (those go to the log).
 */
export class DatabaseUnavailableError extends ApiError {
  constructor(
    readonly reason: 'unreachable' | 'timeout',
    readonly retryAfterSeconds: number,
    /** The underlying failure, for the log only. */
    readonly underlying?: unknown,
  ) {
    super(
      reason === 'timeout'
        ? `The database did not answer in time; retry in ${retryAfterSeconds} s.`
        : `The database is unavailable; retry in ${retryAfterSeconds} s.`,
      ErrorCode.DATABASE_UNAVAILABLE,
      { reason, retryAfter: retryAfterSeconds, http: { status: 503, headers: new HeaderMap([['retry-after', String(retryAfterSeconds)]]) } },
    );
  }
}

/** No row has the requested id; the field resolves to null beside this error. */
export class NotFoundError extends ApiError {
  constructor(entity: string, argument: string, value: string) {
    super(`No ${entity} with ${argument} ${JSON.stringify(value)}.`, ErrorCode.NOT_FOUND, { entity, argument });
  }
}

export class QueryTooDeepError extends ApiError {
  constructor(depth: number, maxDepth: number) {
    super(`Query depth ${depth} exceeds the maximum of ${maxDepth}.`, ErrorCode.QUERY_TOO_DEEP, { depth, maxDepth }, 400);
  }
}

export class QueryTooCostlyError extends ApiError {
  constructor(cost: number, maxCost: number, reason?: string) {
    super(
      reason
        ? `Query is too costly to estimate (${reason}); the maximum cost is ${maxCost}.`
        : `Query cost ${cost} exceeds the maximum of ${maxCost}; request smaller pages (\`first\`) or fewer nested connections.`,
      ErrorCode.QUERY_TOO_COSTLY,
      { cost: Number.isFinite(cost) ? cost : null, maxCost },
      400,
    );
  }
}

/** Fields, inline fragments and fragment spreads nest deeper than GRAPHQL_MAX_NESTING (fragments followed). */
export class QueryNestedTooDeepError extends ApiError {
  constructor(nesting: number, maxNesting: number) {
    super(
      `Query nests fields, inline fragments and fragment spreads ${nesting} levels deep; the maximum is ${maxNesting} (GRAPHQL_MAX_NESTING).`,
      ErrorCode.QUERY_TOO_DEEP,
      { nesting, maxNesting, limit: 'GRAPHQL_MAX_NESTING' },
      400,
    );
  }
}

/** The document holds more tokens, aliases or directives than its limit (`limit` names the variable). */
export class QueryTooLargeError extends ApiError {
  constructor(limit: 'GRAPHQL_MAX_TOKENS' | 'GRAPHQL_MAX_ALIASES' | 'GRAPHQL_MAX_DIRECTIVES', what: string, count: number | null, max: number) {
    super(
      count === null
        ? `Query has more than ${max} ${what}; the maximum is ${max} (${limit}).`
        : `Query has ${count} ${what} (fragments expanded); the maximum is ${max} (${limit}).`,
      ErrorCode.QUERY_TOO_LARGE,
      { limit, count, max },
      400,
    );
  }
}

/**
 * One operation would build more grid cells (or an estimated response larger) than its budget,
 * counted over all its grid fields, aliases and fragments. The whole operation is refused.
 */
export class OperationTooLargeError extends ApiError {
  constructor(limit: 'GRAPHQL_MAX_OPERATION_CELLS' | 'GRAPHQL_MAX_RESPONSE_BYTES', amount: number, max: number, field: string) {
    const unit = limit === 'GRAPHQL_MAX_OPERATION_CELLS' ? 'grid cells' : 'bytes of estimated response';
    super(
      `This operation would build at least ${amount} ${unit} (reached at \`${field}\`) over all its grid fields and aliases; ` +
        `the maximum is ${max} (${limit}). Request fewer or smaller grids per operation.`,
      ErrorCode.OPERATION_TOO_LARGE,
      { limit, amount, max, field },
      400,
    );
  }
}

/** Too many heavy operations are running and waiting: retry after `retryAfterSeconds` (HTTP 503, Retry-After). */
export class ServerBusyError extends ApiError {
  constructor(reason: string, retryAfterSeconds: number) {
    super(`The server is busy (${reason}); retry in ${retryAfterSeconds} s.`, ErrorCode.SERVER_BUSY, {
      retryAfterSeconds,
      // Apollo takes `http` out of the extensions and applies it to the whole response.
      http: { status: 503, headers: new Map([['retry-after', String(retryAfterSeconds)]]) },
    });
  }
}

/** The client went away before its answer was ready: its work was stopped (nobody reads this error). */
export class RequestCancelledError extends ApiError {
  constructor() {
    super('The client closed the request before the response was ready; its work was cancelled.', ErrorCode.REQUEST_CANCELLED);
  }
}

/** A control mutation without the control token, or with another one; nothing was changed. */
export class UnauthenticatedError extends ApiError {
  constructor(field: string, problem: 'missing' | 'wrong') {
    super(
      problem === 'missing'
        ? `${field} needs the control token: send the header \`Authorization: Bearer <API_CONTROL_TOKEN>\` (the token this server was started with).`
        : `${field}: the bearer token sent is not this server's control token (API_CONTROL_TOKEN); nothing was changed.`,
      ErrorCode.UNAUTHENTICATED,
      { field },
    );
  }
}

/** A control mutation on a server started without API_CONTROL_TOKEN: control through the API is off. */
export class ControlOffError extends ApiError {
  constructor(field: string) {
    super(
      `${field} is refused: control through the API is off on this server (API_CONTROL_TOKEN is not set). ` +
        'Start it with API_CONTROL_TOKEN=<secret> to allow cancelRun and retryRun.',
      ErrorCode.FORBIDDEN,
      { field },
    );
  }
}

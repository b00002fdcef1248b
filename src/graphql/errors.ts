// Every failure the API reports has one code (mirrored by `enum ErrorCode` in schema/common.graphql)
// and one error class, so clients branch on `extensions.code` and never parse messages.
import { GraphQLError } from 'graphql';

export enum ErrorCode {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  QUERY_TOO_DEEP = 'QUERY_TOO_DEEP',
  QUERY_TOO_COSTLY = 'QUERY_TOO_COSTLY',
  FORBIDDEN = 'FORBIDDEN',
  GRAPHQL_PARSE_FAILED = 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED = 'GRAPHQL_VALIDATION_FAILED',
  BAD_REQUEST = 'BAD_REQUEST',
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


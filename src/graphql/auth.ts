// Writes are not part of this API (scripts write), but any future mutation must pass this check:
// a bearer token equal to config.adminToken, compared in constant time; no token configured = no writes.
import { timingSafeEqual } from 'node:crypto';
import type { Config } from '../config.ts';
import { ForbiddenError, UnauthenticatedError } from './errors.ts';

export function requireAdmin(authorization: string | undefined, config: Pick<Config, 'adminToken'>): void {
  if (!config.adminToken) throw new ForbiddenError('Writes are disabled: the server has no ADMIN_TOKEN configured.');
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!match) throw new UnauthenticatedError();
  const given = Buffer.from(match[1]!);
  const expected = Buffer.from(config.adminToken);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ForbiddenError('The bearer token does not grant writes.');
  }
}

// Structured logs: one JSON object per line when stdout is not a terminal (CI, containers, log
// shippers), a short human line when it is.
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export function createLogger(name: string, stream: NodeJS.WriteStream = process.stderr): Logger {
  const write = (level: string, message: string, fields: LogFields = {}) => {
    if (stream.isTTY) {
      const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
      stream.write(`[${name}] ${level === 'info' ? '' : `${level.toUpperCase()}: `}${message}${extra}\n`);
    } else {
      stream.write(`${JSON.stringify({ time: new Date().toISOString(), level, name, message, ...fields })}\n`);
    }
  };
  return {
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
  };
}

// Structured logging: JSON lines in production, a readable single line per event in the lab.
// Secrets never reach a log: any field whose name looks like a credential is redacted.
import winston from 'winston';

export type LogFormat = 'json' | 'text';
export type Logger = winston.Logger;

const SECRET_FIELD = /^(key|keyring|secret|token|password|cephx_?key|bootstrap_?token)$/i;

function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_FIELD.test(k) ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

const redactSecrets = winston.format((info) => {
  for (const k of Object.keys(info)) {
    if (SECRET_FIELD.test(k)) info[k] = '[redacted]';
    else if (k !== 'level' && k !== 'message') info[k] = redact(info[k]);
  }
  return info;
});

export function createLogger(options: { level?: string; format?: LogFormat } = {}): Logger {
  const format = options.format ?? (process.env['NODE_ENV'] === 'production' ? 'json' : 'text');
  const text = winston.format.printf((info) => {
    const { level, message, timestamp, component, ...rest } = info;
    const fields = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
    const where = typeof component === 'string' ? ` [${component}]` : '';
    return `${String(timestamp)} ${level}${where} ${String(message)}${fields}`;
  });
  return winston.createLogger({
    level: options.level ?? process.env['LOG_LEVEL'] ?? 'info',
    format: winston.format.combine(
      redactSecrets(),
      winston.format.errors({ stack: false }),
      winston.format.timestamp(),
      format === 'json' ? winston.format.json() : text,
    ),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn'] })],
  });
}

/** A logger that discards everything, for tests and library use without a host logger. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console()] });
}

/**
 * Sending mon and mgr commands and turning their outcome into CephOpErrors.
 *
 * librados resolves a command with `rc` (0 or -errno) and `outs` (the daemon's explanation);
 * everything above this file wants "the output, or a typed error". Failures keep the errno, use
 * `outs` as the message (that is the text the mgr module would have shown the user), and carry
 * the command's prefix so logs say which command failed. Command arguments are never copied into
 * errors: `config-key set` carries a peer's secret key.
 */
import type { Rados } from 'rados-js';
import { CephOpError, defaultReason, errnoCode } from './errors.js';
import { fsDump } from './mon-commands.js';
import { parseFsDump, type FsMap } from './fsmap.js';

export type CommandTarget = 'mon' | 'mgr';

/** A mon/mgr command failed (rc < 0), or its output was not what was asked for. */
export class CommandError extends CephOpError {
  override name = 'CommandError';
  constructor(
    /** Which daemon the command went to. */
    readonly target: CommandTarget,
    /** The command's `prefix`, e.g. 'fs mirror peer_add'. */
    readonly prefix: string,
    errno: number,
    message: string,
    reason: string,
    cause?: unknown,
  ) {
    super(errno, message, { reason, cause });
  }
}

export interface CommandOutput {
  outbuf: Buffer;
  outs: string;
}

/** Sends a mon command; returns its output, or throws a CommandError when rc < 0. */
export async function monCommand(
  rados: Rados,
  cmd: object,
  input?: Buffer,
): Promise<CommandOutput> {
  return send('mon', rados, cmd, input);
}

/** Sends a mon command with `format: json` and parses its output (not validated: callers do). */
export async function monCommandJson<T>(rados: Rados, cmd: object): Promise<T> {
  return sendJson<T>('mon', rados, cmd);
}

/** Sends a command to the active mgr; returns its output, or throws a CommandError when rc < 0. */
export async function mgrCommand(
  rados: Rados,
  cmd: object,
  input?: Buffer,
): Promise<CommandOutput> {
  return send('mgr', rados, cmd, input);
}

/** Sends a mgr command with `format: json` and parses its output (not validated: callers do). */
export async function mgrCommandJson<T>(rados: Rados, cmd: object): Promise<T> {
  return sendJson<T>('mgr', rados, cmd);
}

/** The current FSMap (`fs dump`), parsed and validated. */
export async function fetchFsMap(rados: Rados): Promise<FsMap> {
  return parseFsDump(await monCommandJson<unknown>(rados, fsDump()));
}

// ---- internals ----------------------------------------------------------------------------------

function prefixOf(cmd: object): string {
  const prefix = (cmd as { prefix?: unknown }).prefix;
  return typeof prefix === 'string' ? prefix : '(no prefix)';
}

function failureReason(target: CommandTarget, code: string): string {
  const specific = defaultReason(code);
  if (specific !== 'CephError') return specific;
  return target === 'mon' ? 'MonCommandFailed' : 'MgrCommandFailed';
}

async function send(
  target: CommandTarget,
  rados: Rados,
  cmd: object,
  input: Buffer | undefined,
): Promise<CommandOutput> {
  const prefix = prefixOf(cmd);
  let result;
  try {
    result =
      target === 'mon' ? await rados.monCommand(cmd, input) : await rados.mgrCommand(cmd, input);
  } catch (e) {
    // The addon rejects (rather than resolving with rc) when the handle cannot send at all,
    // e.g. after shutdown. Same error type for the caller either way.
    const errno = errnoFromRejection(e);
    const code = errnoCode(errno);
    const detail = e instanceof Error ? e.message : String(e);
    throw new CommandError(
      target,
      prefix,
      errno,
      `${target} command '${prefix}' could not be sent: ${detail}`,
      // ESHUTDOWN here is our own handle being shut down, not the blocklisting it means as an rc.
      code === 'ESHUTDOWN' ? 'ConnectionClosed' : failureReason(target, code),
      e,
    );
  }
  if (result.rc < 0) {
    const code = errnoCode(result.rc);
    const outs = result.outs.trim();
    const message = outs === '' ? `${target} command '${prefix}' failed: ${code}` : outs;
    throw new CommandError(target, prefix, -result.rc, message, failureReason(target, code));
  }
  return { outbuf: result.outbuf, outs: result.outs };
}

async function sendJson<T>(target: CommandTarget, rados: Rados, cmd: object): Promise<T> {
  const withFormat = { ...cmd, format: 'json' };
  const { outbuf } = await send(target, rados, withFormat, undefined);
  try {
    return JSON.parse(outbuf.toString('utf8')) as T;
  } catch (e) {
    const prefix = prefixOf(cmd);
    throw new CommandError(
      target,
      prefix,
      74, // EBADMSG
      `${target} command '${prefix}' returned output that is not JSON`,
      'UnexpectedCommandOutput',
      e,
    );
  }
}

function errnoFromRejection(e: unknown): number {
  const errno = typeof e === 'object' && e !== null ? (e as { errno?: unknown }).errno : undefined;
  return typeof errno === 'number' && Number.isInteger(errno) && errno !== 0 ? Math.abs(errno) : 5; // EIO
}

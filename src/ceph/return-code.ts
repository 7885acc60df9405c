// The policy driver speaks librados return codes (0 or -errno); the addons reject with errors
// carrying a positive `errno`. This turns one into the other at the boundary.

/** Resolves to 0 when `op` succeeds, to -errno when it rejects (-EIO without an errno). */
export async function returnCodeOf(op: Promise<unknown>): Promise<number> {
  try {
    await op;
    return 0;
  } catch (e) {
    return -errnoOf(e);
  }
}

export function errnoOf(e: unknown): number {
  const errno = typeof e === 'object' && e !== null ? (e as { errno?: unknown }).errno : undefined;
  return typeof errno === 'number' && errno > 0 ? errno : 5;
}

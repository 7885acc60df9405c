// Every list the operator makes is paginated (`limit` + `continue`): one unpaginated list of a
// large collection is held whole in the API server's and in our memory at once (issue 12: the
// Helm release Secrets of a cluster alone can be hundreds of MiB). The pages of one list are a
// consistent snapshot served by the API server; their items are concatenated and the last page's
// resourceVersion is the list's (what a watch starts from).
import type { ResourceList } from './kube-api.js';

/** Items per page: the size client-go's pager and kubectl use. */
export const LIST_PAGE_SIZE = 500;
/**
 * A continue token expires with etcd's compaction (410 Gone, typically after 5 minutes): the
 * list starts again from the first page, a few times at most.
 */
const MAX_LIST_RESTARTS = 3;

export type PageFetcher = <T>(path: string) => Promise<ResourceList<T> & ListMetadata>;

interface ListMetadata {
  metadata?: { resourceVersion?: string; continue?: string };
}

/** `path` with `limit` and (when given) `continue` added to its query. */
export function pagePath(path: string, limit: number, token?: string): string {
  const q = new URLSearchParams({ limit: String(limit) });
  if (token) q.set('continue', token);
  return `${path}${path.includes('?') ? '&' : '?'}${q.toString()}`;
}

function isGone(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 410;
}

/**
 * Lists every item of `path`, a page of `limit` items at a time. `each` sees every item as its
 * page arrives: what it drops from an item is never held for the whole collection at once (the
 * watch cache's slimming: 30,000 objects with their managedFields were the operator's peak RSS
 * at start).
 */
export async function listAllPages<T>(
  fetchPage: PageFetcher,
  path: string,
  limit = LIST_PAGE_SIZE,
  each?: (item: T) => void,
): Promise<ResourceList<T>> {
  for (let restart = 0; ; restart++) {
    const items: T[] = [];
    let token: string | undefined;
    let resourceVersion: string | undefined;
    try {
      do {
        const page = await fetchPage<T>(pagePath(path, limit, token));
        for (const item of page.items ?? []) {
          each?.(item);
          items.push(item);
        }
        resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
        token = page.metadata?.continue || undefined;
      } while (token);
    } catch (e) {
      // Only a continuation can expire; a first page answering 410 is some other problem.
      if (token !== undefined && isGone(e) && restart < MAX_LIST_RESTARTS) continue;
      throw e;
    }
    return { items, metadata: resourceVersion === undefined ? {} : { resourceVersion } };
  }
}

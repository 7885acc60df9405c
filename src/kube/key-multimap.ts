// A map from a string to a set of strings where almost every entry has exactly one value (a path
// declared by one MirroredDirectory): a lone value is stored as the string itself and a Set is
// made only for the rare second one, which keeps 10,000 entries some 150 bytes each smaller.
export class KeyMultimap {
  private readonly entries = new Map<string, string | Set<string>>();

  add(key: string, value: string): void {
    const current = this.entries.get(key);
    if (current === undefined) this.entries.set(key, value);
    else if (typeof current === 'string') {
      if (current !== value) this.entries.set(key, new Set([current, value]));
    } else current.add(value);
  }

  delete(key: string, value: string): void {
    const current = this.entries.get(key);
    if (current === undefined) return;
    if (typeof current === 'string') {
      if (current === value) this.entries.delete(key);
      return;
    }
    current.delete(value);
    const [only, ...rest] = current;
    if (only === undefined) this.entries.delete(key);
    else if (rest.length === 0) this.entries.set(key, only);
  }

  /** How many keys have values. */
  get size(): number {
    return this.entries.size;
  }

  /** The values of `key`, in insertion order (a new array). */
  get(key: string): string[] {
    const current = this.entries.get(key);
    if (current === undefined) return [];
    return typeof current === 'string' ? [current] : [...current];
  }
}

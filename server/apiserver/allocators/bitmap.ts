/**
 * A bitmap over the offsets 0..size-1 of a range (IPs of a CIDR, ports of a port range): what the
 * Kubernetes service allocators keep per range. It only records which offsets are taken; the
 * callers decide what an offset means and persist nothing (the map is rebuilt from the store).
 */
export class BitmapAllocator {
  private readonly words: Uint32Array;
  private used = 0;

  /**
   * @param size number of offsets in the range
   * @param random picks where a dynamic allocation starts scanning (tests pass a fixed one)
   */
  constructor(readonly size: number, private readonly random: () => number = Math.random) {
    if (!Number.isInteger(size) || size < 0) throw new Error(`invalid bitmap size ${size}`);
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  /** How many offsets are taken. */
  get count(): number {
    return this.used;
  }

  get free(): number {
    return this.size - this.used;
  }

  has(offset: number): boolean {
    if (!this.inRange(offset)) return false;
    return (this.words[offset >>> 5]! & (1 << (offset & 31))) !== 0;
  }

  inRange(offset: number): boolean {
    return Number.isInteger(offset) && offset >= 0 && offset < this.size;
  }

  /** Takes `offset`; false when it is out of range or already taken. */
  allocate(offset: number): boolean {
    if (!this.inRange(offset) || this.has(offset)) return false;
    this.words[offset >>> 5]! |= 1 << (offset & 31);
    this.used++;
    return true;
  }

  /** Frees `offset`; false when it was not taken. */
  release(offset: number): boolean {
    if (!this.has(offset)) return false;
    this.words[offset >>> 5]! &= ~(1 << (offset & 31));
    this.used--;
    return true;
  }

  /**
   * Takes a free offset, scanning from a random start so that freshly released offsets are not
   * handed out again at once. Offsets in `[preferFrom, size)` are tried first (the dynamic band of
   * upstream's split ranges), then the rest; `skip` offsets are never returned.
   * Undefined when the range is full.
   */
  allocateNext(opts: { preferFrom?: number; skip?: ReadonlySet<number> } = {}): number | undefined {
    const from = Math.min(Math.max(opts.preferFrom ?? 0, 0), this.size);
    const bands: [number, number][] = from > 0 ? [[from, this.size], [0, from]] : [[0, this.size]];
    for (const [lo, hi] of bands) {
      const span = hi - lo;
      if (span <= 0) continue;
      const start = lo + Math.floor(this.random() * span) % span;
      for (let i = 0; i < span; i++) {
        const offset = lo + ((start - lo + i) % span);
        if (opts.skip?.has(offset)) continue;
        if (this.allocate(offset)) return offset;
      }
    }
    return undefined;
  }

  /** Every taken offset, ascending. */
  taken(): number[] {
    const out: number[] = [];
    for (let w = 0; w < this.words.length; w++) {
      let bits = this.words[w]!;
      while (bits !== 0) {
        const low = bits & -bits;
        out.push(w * 32 + (31 - Math.clz32(low)));
        bits ^= low;
      }
    }
    return out;
  }
}

// A segment tree over a list of nodes (in config order) that keeps, per resource dimension,
// the largest free amount in each subtree. Finding the first node with room for a VM descends
// leftmost-first and skips every subtree where some needed resource is too small everywhere,
// so first-fit costs about O(log n) per VM instead of a scan over the fleet.

/** A needed amount of one resource dimension. */
export interface Need {
  dim: number;
  amount: number;
}

export class MaxTree {
  private readonly size: number;
  private readonly max: Float64Array;

  /**
   * @param members node indexes, in the order first-fit tries them
   * @param free free amounts, `free[node * dims + dim]`
   */
  constructor(
    readonly members: readonly number[],
    private readonly dims: number,
    free: Float64Array,
  ) {
    let size = 1;
    while (size < Math.max(1, members.length)) size *= 2;
    this.size = size;
    // Empty leaves hold -1 so that no need (always > 0) is ever satisfied there.
    this.max = new Float64Array(2 * size * dims).fill(-1);
    members.forEach((node, pos) => {
      const leaf = (size + pos) * dims;
      for (let d = 0; d < dims; d++) this.max[leaf + d] = free[node * dims + d];
    });
    for (let i = size - 1; i >= 1; i--) this.pull(i);
  }

  /** Position (in members) of the first node with room for every need, or -1. */
  findFirst(needs: readonly Need[]): number {
    if (this.members.length === 0) return -1;
    return this.find(1, needs);
  }

  /** Refreshes the node at `pos` after its free amounts changed. */
  update(pos: number, free: Float64Array): void {
    const node = this.members[pos];
    let i = this.size + pos;
    for (let d = 0; d < this.dims; d++) this.max[i * this.dims + d] = free[node * this.dims + d];
    for (i >>= 1; i >= 1; i >>= 1) this.pull(i);
  }

  private find(i: number, needs: readonly Need[]): number {
    const base = i * this.dims;
    for (const n of needs) if (this.max[base + n.dim] < n.amount) return -1;
    if (i >= this.size) return i - this.size;
    const left = this.find(2 * i, needs);
    return left >= 0 ? left : this.find(2 * i + 1, needs);
  }

  private pull(i: number): void {
    const a = i * this.dims;
    const l = 2 * i * this.dims;
    const r = (2 * i + 1) * this.dims;
    for (let d = 0; d < this.dims; d++) this.max[a + d] = Math.max(this.max[l + d], this.max[r + d]);
  }
}

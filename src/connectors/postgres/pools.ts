import pg from 'pg';

/** One lazily created pool per database: grants and discovery must run inside each database. */
export class PoolSet {
  private readonly pools = new Map<string, pg.Pool>();
  private closed = false;

  constructor(private readonly base: pg.PoolConfig) {}

  get(database: string): pg.Pool {
    if (this.closed) throw new Error('PostgreSQL connector is closed');
    let pool = this.pools.get(database);
    if (!pool) {
      pool = new pg.Pool({ ...this.base, database });
      // An idle client that loses its server emits 'error' on the pool; unhandled, that kills the process.
      pool.on('error', () => {});
      this.pools.set(database, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(all.map((p) => p.end()));
  }
}

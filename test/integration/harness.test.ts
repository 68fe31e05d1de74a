import { describe, it, expect } from '@jest/globals';
import mongoose from 'mongoose';
import pg from 'pg';
describe('harness', () => {
  it('reaches mongo and pg', async () => {
    const conn = await mongoose.createConnection(process.env.MONGODB_URI!).asPromise();
    const r = await conn.db!.command({ ping: 1 });
    expect(r.ok).toBe(1);
    await conn.close();
    const c = new pg.Client({ connectionString: process.env.PG_URL });
    await c.connect();
    const q = await c.query('select 1 as x');
    expect(q.rows[0].x).toBe(1);
    await c.end();
  });
});

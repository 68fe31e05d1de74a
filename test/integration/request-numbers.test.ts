import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { nextRequestNumber } from '../../src/lifecycle/load.js';
import { createFixture, type Fixture } from '../support/fixture.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture('numbers');
}, 60_000);
afterAll(async () => fx.close());

describe('request numbers', () => {
  it('are unique and consecutive from AR-1001 even when the first ones are taken concurrently', async () => {
    const numbers = await Promise.all(Array.from({ length: 12 }, () => nextRequestNumber(fx.latch.ctx)));
    expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => 1001 + i));
  });
});

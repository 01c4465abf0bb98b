// kiln refuses to report ready when it is connected as a role that row-level security does
// not bind (superuser or BYPASSRLS): tenant isolation would silently be off.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDatabase, dropDatabase, startKiln } from './lib/kiln.mjs';

describe('database role', () => {
  it('/ready is 503 when connected as a superuser, 200 as the application role', async (t) => {
    const database = createDatabase();
    t.after(() => dropDatabase(database));

    const wrong = await startKiln({
      database,
      env: {
        KILN_DATABASE_USER: process.env.KILN_PG_SUPERUSER,
        KILN_DATABASE_PASSWORD_FILE: process.env.KILN_PG_SUPERUSER_PASSWORD_FILE,
      },
    });
    t.after(() => wrong.stop('SIGKILL'));
    const res = await fetch(`${wrong.url}/ready`);
    assert.equal(res.status, 503);
    assert.match((await res.json()).detail, /row-level security/);
    assert.equal(await wrong.stop(), 0);

    const right = await startKiln({ database });
    t.after(() => right.stop('SIGKILL'));
    assert.equal((await fetch(`${right.url}/ready`)).status, 200);
    assert.equal(await right.stop(), 0);
  });
});

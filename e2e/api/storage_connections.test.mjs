// /api/v1/storage-connections against the real binary: CRUD, the secret never in an answer, the
// audit trail or kiln's log, the connection test against s3rver (scripts/test exports
// KILN_TEST_S3_ENDPOINT, bucket kiln-test) and its failures, roles, another workspace's 404s.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from './lib/kiln.mjs';
import { assertInvalid, assertProblem, assertTimestamp, hex, launchWithAccount, signUp, uniqueEmail } from './lib/api.mjs';

const s3Endpoint = process.env.KILN_TEST_S3_ENDPOINT;
const needS3 = (t) => {
  if (s3Endpoint) return true;
  if (process.env.CI === 'true') assert.fail('KILN_TEST_S3_ENDPOINT is not set (scripts/test starts s3rver)');
  t.skip('KILN_TEST_S3_ENDPOINT is not set: run through scripts/test');
  return false;
};

describe('storage connections', { timeout: 120000 }, () => {
  let kiln;
  let c;
  let o;
  // Every secret handed to kiln; none may come back in an answer or reach the log.
  const secrets = [];
  const answers = [];
  const secret = () => {
    const s = `secret-${hex(16)}`;
    secrets.push(s);
    return s;
  };
  // s3rver checks the key id (S3RVER), not the secret: any secret signs acceptably.
  const body = (overrides = {}) => ({
    name: `conn ${hex(4)}`,
    endpoint: s3Endpoint ?? 'http://127.0.0.1:9',
    bucket: 'kiln-test',
    access_key_id: 'S3RVER',
    secret_access_key: secret(),
    ...overrides,
  });
  const remember = (res) => { answers.push(res.text); return res; };

  before(async () => {
    // Only s3rver's address may be named by an endpoint (the default list holds public providers);
    // s3.localhost is s3rver too, taking kiln-test.s3.localhost as virtual-host style.
    ({ kiln, c, owner: o } = await launchWithAccount({
      env: { KILN_STORAGE_CONNECTION_HOSTS: '127.0.0.1,s3.localhost' },
    }));
  });
  after(async () => {
    if (!kiln) return;
    assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM');
    const output = kiln.output();
    assert.ok(kiln.logs.some((e) => e.msg === 'listening'), 'the log was captured');
    for (const s of secrets) {
      assert.ok(!output.includes(s), `a secret reached kiln's output: ${s}`);
      for (const text of answers) assert.ok(!text.includes(s), `a secret came back in an answer: ${text}`);
    }
  });

  it('creates, lists, reads, changes and deletes; answers never hold the secret', async () => {
    const given = body({ region: 'eu-central-1', access_key_id: 'AKIAKILNE2E0000ABCD', path_style: false });
    const made = remember(await o.as.post('/storage-connections', given));
    assert.equal(made.status, 201, made.text);
    const conn = made.body;
    assert.match(conn.id, /^[0-9a-f-]{36}$/);
    assert.equal(conn.id[14], '7', 'a UUIDv7');
    assert.deepEqual(Object.keys(conn).sort(), ['access_key_id_last4', 'bucket', 'created_at', 'created_by', 'endpoint',
      'id', 'name', 'path_style', 'region', 'secret_set', 'updated_at']);
    assert.equal(conn.name, given.name);
    assert.equal(conn.endpoint, given.endpoint);
    assert.equal(conn.region, 'eu-central-1');
    assert.equal(conn.bucket, 'kiln-test');
    assert.equal(conn.access_key_id_last4, 'ABCD');
    assert.equal(conn.secret_set, true);
    assert.equal(conn.path_style, false);
    assert.equal(conn.created_by, o.user.id);
    assertTimestamp(conn.created_at, 'created_at');

    const read = remember(await o.as.get(`/storage-connections/${conn.id}`));
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.body, conn);
    const list = remember(await o.as.get('/storage-connections'));
    assert.equal(list.status, 200, list.text);
    assert.ok(list.body.items.some((x) => x.id === conn.id));
    assert.ok(!list.text.includes('AKIAKILNE2E0000ABCD'), 'the whole key id is not shown either');

    const renamed = remember(await o.as.patch(`/storage-connections/${conn.id}`,
      { name: `${given.name} renamed`, path_style: true, secret_access_key: secret() }));
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.body.name, `${given.name} renamed`);
    assert.equal(renamed.body.path_style, true);
    assert.equal(renamed.body.region, 'eu-central-1', 'absent fields stay');
    assert.ok(Date.parse(renamed.body.updated_at) >= Date.parse(conn.updated_at));

    const clash = remember(await o.as.post('/storage-connections', body({ name: renamed.body.name })));
    assertProblem(clash, 409);

    const gone = await o.as.delete(`/storage-connections/${conn.id}`);
    assert.equal(gone.status, 204, gone.text);
    assertProblem(await o.as.get(`/storage-connections/${conn.id}`), 404);
    assertProblem(await o.as.delete(`/storage-connections/${conn.id}`), 404);
    assertProblem(await o.as.post(`/storage-connections/${conn.id}/test`), 404);
    const again = remember(await o.as.post('/storage-connections', body({ name: renamed.body.name })));
    assert.equal(again.status, 201, `a deleted connection's name is free: ${again.text}`);
  });

  it('checks each field and the endpoint allow-list, one error per field', async () => {
    assertInvalid(remember(await o.as.post('/storage-connections', body({
      name: '', endpoint: 'ftp://127.0.0.1', bucket: 'Bad_Bucket', region: 'us east', access_key_id: 'a:b',
      secret_access_key: '',
    }))), ['name', 'endpoint', 'bucket', 'region', 'access_key_id', 'secret_access_key']);
    assertInvalid(remember(await o.as.post('/storage-connections', body({ endpoint: 'http://169.254.169.254' }))),
      ['endpoint']);
    assertInvalid(remember(await o.as.post('/storage-connections', body({ endpoint: 'http://localhost:9000' }))),
      ['endpoint']);
    assertInvalid(remember(await o.as.post('/storage-connections', body({ endpoint: 'http://u:p@127.0.0.1:9000' }))),
      ['endpoint']);
    assertInvalid(remember(await o.as.post('/storage-connections', { ...body(), secret: 'x' })), ['secret']);
    const { name, ...missing } = body();
    assertInvalid(remember(await o.as.post('/storage-connections', missing)), ['name']);
    const made = remember(await o.as.post('/storage-connections', body()));
    assertInvalid(remember(await o.as.patch(`/storage-connections/${made.body.id}`, { bucket: 'x' })), ['bucket']);
    assertInvalid(await o.as.get('/storage-connections?limit=0&cursor=nope'), ['limit', 'cursor']);
    assertProblem(await o.as.get('/storage-connections/not-a-uuid'), 404);
  });

  it('tests a connection: ok against s3rver, the reason when the bucket or endpoint is wrong', async (t) => {
    if (!needS3(t)) return;
    const good = remember(await o.as.post('/storage-connections', body()));
    assert.equal(good.status, 201, good.text);
    const ok = remember(await o.as.post(`/storage-connections/${good.body.id}/test`));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.ok, true, ok.text);
    assert.equal(ok.body.error, null);
    assert.ok(Number.isInteger(ok.body.latency_ms) && ok.body.latency_ms >= 0, ok.text);
    // The probe is removed again: nothing is left under .kiln-probe/.
    const listing = await fetch(`${s3Endpoint}/kiln-test?prefix=.kiln-probe/`);
    assert.equal(listing.status, 200);
    assert.ok(!(await listing.text()).includes('<Key>.kiln-probe/'), 'the probe object was removed');

    const port = new URL(s3Endpoint).port;
    const virtualHost = remember(await o.as.post('/storage-connections',
      body({ endpoint: `http://s3.localhost:${port}`, path_style: false })));
    assert.equal(virtualHost.status, 201, virtualHost.text);
    const vhOk = remember(await o.as.post(`/storage-connections/${virtualHost.body.id}/test`));
    assert.equal(vhOk.body.ok, true, `virtual-host style: ${vhOk.text}`);

    const noBucket = remember(await o.as.post('/storage-connections', body({ bucket: `missing-${hex(6)}` })));
    const wrongBucket = remember(await o.as.post(`/storage-connections/${noBucket.body.id}/test`));
    assert.equal(wrongBucket.status, 200, wrongBucket.text);
    assert.equal(wrongBucket.body.ok, false);
    assert.match(wrongBucket.body.error, /NoSuchBucket|404/, wrongBucket.text);

    // s3rver knows one key id, S3RVER: another is refused as AWS refuses an unknown key.
    const stranger = remember(await o.as.post('/storage-connections', body({ access_key_id: 'AKIAUNKNOWN00000' })));
    const unknownKey = remember(await o.as.post(`/storage-connections/${stranger.body.id}/test`));
    assert.equal(unknownKey.body.ok, false, unknownKey.text);
    assert.match(unknownKey.body.error, /403 InvalidAccessKeyId/, unknownKey.text);

    const closed = await freePort();
    const nowhere = remember(await o.as.post('/storage-connections', body({ endpoint: `http://127.0.0.1:${closed}` })));
    const refused = remember(await o.as.post(`/storage-connections/${nowhere.body.id}/test`));
    assert.equal(refused.status, 200, refused.text);
    assert.equal(refused.body.ok, false);
    assert.match(refused.body.error, /connect|refused/i, refused.text);

    // The key rotated to another value still works (s3rver checks the key id only), and the
    // answer names no secret.
    const rotated = remember(await o.as.patch(`/storage-connections/${good.body.id}`,
      { secret_access_key: secret() }));
    assert.equal(rotated.status, 200, rotated.text);
    assert.equal(remember(await o.as.post(`/storage-connections/${good.body.id}/test`)).body.ok, true);
  });

  it('lets viewers read, not manage; another workspace gets 404', async () => {
    const made = remember(await o.as.post('/storage-connections', body()));
    assert.equal(made.status, 201, made.text);
    const id = made.body.id;

    const email = uniqueEmail();
    const added = await o.as.post(`/workspaces/${o.workspace.id}/users`, { email, name: 'V', role: 'viewer' });
    assert.equal(added.status, 201, added.text);
    const first = await c.login({ email, password: added.body.temporary_password });
    const password = `viewer passphrase ${added.body.member.user_id}`;
    await c.authed(first.access).post('/auth/change-password',
      { current_password: added.body.temporary_password, new_password: password });
    const viewer = c.authed((await c.login({ email, password })).access);
    assert.equal(remember(await viewer.get(`/storage-connections/${id}`)).status, 200);
    assert.equal(remember(await viewer.get('/storage-connections')).status, 200);
    assertProblem(await viewer.post('/storage-connections', body()), 403);
    assertProblem(await viewer.patch(`/storage-connections/${id}`, { name: 'viewer was here' }), 403);
    assertProblem(await viewer.delete(`/storage-connections/${id}`), 403);
    assertProblem(await viewer.post(`/storage-connections/${id}/test`), 403);

    const stranger = await signUp(c);
    assertProblem(await stranger.as.get(`/storage-connections/${id}`), 404);
    assertProblem(await stranger.as.patch(`/storage-connections/${id}`, { name: 'mine' }), 404);
    assertProblem(await stranger.as.delete(`/storage-connections/${id}`), 404);
    assertProblem(await stranger.as.post(`/storage-connections/${id}/test`), 404);
    const theirs = await stranger.as.get('/storage-connections');
    assert.deepEqual(theirs.body.items, []);
    assert.equal((await o.as.get(`/storage-connections/${id}`)).body.name, made.body.name, 'unchanged');
  });

  it('audits every change, with no secret in the trail', async () => {
    const made = remember(await o.as.post('/storage-connections', body()));
    await o.as.patch(`/storage-connections/${made.body.id}`, { secret_access_key: secret() });
    await o.as.delete(`/storage-connections/${made.body.id}`);
    const events = remember(await o.as.get('/audit-events?limit=200'));
    assert.equal(events.status, 200, events.text);
    const mine = events.body.items.filter((e) => e.target_id === made.body.id).map((e) => e.action);
    assert.deepEqual(mine, ['storage_connection.delete', 'storage_connection.update', 'storage_connection.create']);
    const update = events.body.items.find((e) => e.target_id === made.body.id && e.action === 'storage_connection.update');
    assert.equal(update.detail.secret_changed, true);
    assert.equal(update.actor_user_id, o.user.id);
    if (s3Endpoint) {
      assert.ok(events.body.items.some((e) => e.action === 'storage_connection.test'), 'tests are audited too');
    }
  });

  it('documents its routes in /openapi.json', async () => {
    const doc = await (await fetch(`${kiln.url}/openapi.json`)).json();
    assert.deepEqual(Object.keys(doc.paths['/api/v1/storage-connections']).sort(), ['get', 'post']);
    assert.deepEqual(Object.keys(doc.paths['/api/v1/storage-connections/{id}']).sort(), ['delete', 'get', 'patch']);
    assert.deepEqual(Object.keys(doc.paths['/api/v1/storage-connections/{id}/test']), ['post']);
  });
});

// Redis URLs, and a server that is not there: one line naming the URL and how to start one, in seconds, no hang.
import { createServer } from 'node:net';
import { parseRedisUrl, RedisUnavailable, RunRedis } from './redis';

it('parses redis URLs and refuses others', () => {
  expect(parseRedisUrl('redis://10.0.0.5:6390/2')).toMatchObject({ host: '10.0.0.5', port: 6390, db: 2 });
  expect(parseRedisUrl('redis://:s%40cret@host')).toMatchObject({
    host: 'host',
    port: 6379,
    db: 0,
    password: 's@cret',
  });
  expect(() => parseRedisUrl('http://host:6379')).toThrow(/redis:\/\//);
  expect(() => parseRedisUrl('not a url')).toThrow(/not a URL/);
  expect(() => parseRedisUrl('redis://host/x')).toThrow(/database/);
});

it('a server that is not there is one RedisUnavailable line, within the connect limit', async () => {
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  const started = Date.now();
  const err = await RunRedis.connect(`redis://127.0.0.1:${port}`, { connectMs: 2000 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(RedisUnavailable);
  expect((err as Error).message).toMatch(
    new RegExp(`cannot reach Redis at redis://127.0.0.1:${port} .*redis-server --port ${port}`),
  );
  expect((err as Error).message).not.toMatch(/\n/);
  expect(Date.now() - started).toBeLessThan(4000);
});

import type { RedisClientType, RedisClusterType } from 'redis'
import type { SharedRecords } from './backend.ts'

// Records in Redis: one key per writer, `{suaicloudapp:fleet}:<id>`, that expires by itself, and a
// sorted set of the writers by expiry time, so they are listed without SCAN. The braces are a hash
// tag: a cluster-mode cluster keeps every one of these keys in one slot, on one shard, so one
// MGET reads them all.
// https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags
const TAG = '{suaicloudapp:fleet}'
const INDEX = `${TAG}:index`

// The clients plugins/redis.ts makes, which speak RESP2 (see there).
export type RedisNodeClient = RedisClientType<{}, {}, {}, 2>
export type RedisClusterClient = RedisClusterType<{}, {}, {}, 2>
type Redis = RedisNodeClient | RedisClusterClient

export function redisRecords (connected: () => Promise<Redis>): SharedRecords {
  async function values (redis: Redis, ids: string[]): Promise<string[]> {
    if (ids.length === 0) return []
    const records = await redis.mGet(ids.map(writer => `${TAG}:${writer}`))
    return records.filter(value => value !== null)
  }

  return {
    async publish (id, record, ttlMs) {
      const redis = await connected()
      const now = Date.now()
      // Issued together, node-redis pipelines them: one round trip, then one MGET.
      const [, , , , ids] = await Promise.all([
        redis.set(`${TAG}:${id}`, record, { expiration: { type: 'PX', value: ttlMs } }),
        redis.zAdd(INDEX, { score: now + ttlMs, value: id }),
        // Writers whose key has expired leave the index, and the index leaves with the last one:
        // the keys never outnumber the live writers plus one.
        redis.zRemRangeByScore(INDEX, '-inf', now),
        redis.pExpire(INDEX, ttlMs),
        redis.zRangeByScore(INDEX, now, '+inf')
      ])
      return values(redis, ids)
    },
    async read () {
      const redis = await connected()
      return values(redis, await redis.zRangeByScore(INDEX, Date.now(), '+inf'))
    }
  }
}

// The bench's "bare" baseline: the whole job of the pipeline without Node-RED, in one small
// node:http server of its own process, written the way a careful developer would: the token's
// hash compared in constant time, the body read with a size limit and parsed once, the
// temperature/humidity frame decoded, devices kept in a Map, each reading inserted with a
// prepared better-sqlite3 statement (the store's pragmas) before the 200 is sent.
//
//   node dist/bench/bare-server.js <sqlite file> <token>     prints "listening <port>"
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import Database from 'better-sqlite3';
import { SQLITE_PRAGMAS } from '../src/store/sqlite-backend';

export const BARE_TABLE_SQL = 'CREATE TABLE IF NOT EXISTS readings (device TEXT NOT NULL, f_cnt INTEGER NOT NULL, ts INTEGER NOT NULL, data TEXT NOT NULL)';
/** Stored readings per device and f_cnt, in the shape the bench's checks read. */
export const BARE_COUNT_SQL = 'SELECT device AS bucket, f_cnt, count(*) AS n FROM readings GROUP BY device, f_cnt';

const LIMIT = 256 * 1024;

interface Device {
  lastSeen: number;
  fCnt: number;
  count: number;
}

function main(): void {
  const [file, token] = process.argv.slice(2);
  if (!file || !token) throw new Error('usage: bare-server <sqlite file> <token>');
  const db = new Database(file);
  for (const pragma of SQLITE_PRAGMAS) db.pragma(pragma);
  db.exec(BARE_TABLE_SQL);
  const insert = db.prepare('INSERT INTO readings (device, f_cnt, ts, data) VALUES (?, ?, ?, ?)');
  const expected = createHash('sha256').update(`Bearer ${token}`).digest();
  const devices = new Map<string, Device>();

  const answer = (res: http.ServerResponse, status: number, body: string): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const server = http.createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/tts') return answer(res, 404, '{"error":"not found"}');
    const given = createHash('sha256').update(req.headers.authorization ?? '').digest();
    if (!timingSafeEqual(given, expected)) return answer(res, 401, '{"error":"token"}');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > LIMIT) {
        answer(res, 413, '{"error":"too large"}');
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      let up: { end_device_ids?: { device_id?: string }; received_at?: string; uplink_message?: { f_cnt?: number; frm_payload?: string } };
      try {
        up = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return answer(res, 400, '{"error":"json"}');
      }
      const id = up?.end_device_ids?.device_id;
      const uplink = up?.uplink_message;
      if (typeof id !== 'string' || !uplink || typeof uplink.frm_payload !== 'string') return answer(res, 422, '{"error":"not an uplink"}');
      const bytes = Buffer.from(uplink.frm_payload, 'base64');
      if (bytes.length < 4) return answer(res, 422, '{"error":"short frame"}');
      const data = { temperature: bytes.readInt16LE(0) / 100, humidity: bytes.readInt16LE(2) / 100 };
      const ts = Date.parse(up.received_at ?? '') || Date.now();
      const fCnt = uplink.f_cnt ?? 0;
      const device = devices.get(id);
      if (device) {
        device.lastSeen = ts;
        device.fCnt = fCnt;
        device.count += 1;
      } else {
        devices.set(id, { lastSeen: ts, fCnt, count: 1 });
      }
      insert.run(id, fCnt, ts, JSON.stringify(data));
      answer(res, 200, '{}');
    });
  });
  server.listen(0, '127.0.0.1', () => {
    console.log(`listening ${(server.address() as { port: number }).port}`);
  });
  const stop = (): void => {
    server.close();
    db.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) main();

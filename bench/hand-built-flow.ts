// The flow a user would wire from core nodes for the pipeline's job (issue 9): http in →
// function: bearer token check and decode → function: device upsert in flow context →
// function: better-sqlite3 insert → http response. better-sqlite3 reaches the function node as
// a global set in settings.js (functionGlobalContext), the way its docs suggest for modules.
import { SQLITE_PRAGMAS } from '../src/store/sqlite-backend';
import { BARE_TABLE_SQL } from './bare-server';

/** settings.js source that makes better-sqlite3 available as global.get('Database'). */
export function handBuiltSettings(betterSqlite3Path: string): string {
  return `  functionGlobalContext: { Database: require(${JSON.stringify(betterSqlite3Path)}) }`;
}

export function handBuiltFlow(options: { token: string; path: string; dbFile: string }): Array<Record<string, unknown> & { id: string; type: string }> {
  const p = 'hand';
  const check = `const auth = msg.req.headers.authorization || '';
if (auth !== ${JSON.stringify(`Bearer ${options.token}`)}) {
  msg.statusCode = 401;
  msg.payload = { error: 'wrong token' };
  return [null, msg];
}
const up = msg.payload;
if (!up || !up.end_device_ids || !up.uplink_message || typeof up.uplink_message.frm_payload !== 'string') {
  msg.statusCode = 422;
  msg.payload = { error: 'not an uplink' };
  return [null, msg];
}
const bytes = Buffer.from(up.uplink_message.frm_payload, 'base64');
msg.reading = {
  device: up.end_device_ids.device_id,
  fCnt: up.uplink_message.f_cnt || 0,
  ts: Date.parse(up.received_at) || Date.now(),
  data: { temperature: bytes.readInt16LE(0) / 100, humidity: bytes.readInt16LE(2) / 100 },
};
return [msg, null];`;
  const upsert = `let devices = flow.get('devices');
if (!devices) {
  devices = {};
  flow.set('devices', devices);
}
const r = msg.reading;
const rx = (msg.payload.uplink_message.rx_metadata || [])[0] || {};
let d = devices[r.device];
if (!d) d = devices[r.device] = { created: Date.now(), count: 0 };
d.lastSeen = r.ts;
d.fCnt = r.fCnt;
d.count += 1;
d.rssi = rx.rssi;
d.snr = rx.snr;
return msg;`;
  const setup = `const Database = global.get('Database');
const db = new Database(${JSON.stringify(options.dbFile)});
for (const pragma of ${JSON.stringify(SQLITE_PRAGMAS)}) db.pragma(pragma);
db.exec(${JSON.stringify(BARE_TABLE_SQL)});
context.set('db', db);
context.set('insert', db.prepare('INSERT INTO readings (device, f_cnt, ts, data) VALUES (?, ?, ?, ?)'));`;
  const insert = `const r = msg.reading;
context.get('insert').run(r.device, r.fCnt, r.ts, JSON.stringify(r.data));
msg.payload = {};
return msg;`;
  const fn = (id: string, name: string, func: string, outputs: number, wires: string[][], extra: Record<string, unknown> = {}) => ({
    id: `${p}-${id}`,
    type: 'function',
    z: `${p}-tab`,
    name,
    func,
    outputs,
    timeout: 0,
    noerr: 0,
    initialize: '',
    finalize: '',
    libs: [],
    wires,
    ...extra,
  });
  return [
    { id: `${p}-tab`, type: 'tab', label: 'hand-built' },
    { id: `${p}-in`, type: 'http in', z: `${p}-tab`, name: '', url: options.path, method: 'post', upload: false, swaggerDoc: '', wires: [[`${p}-check`]] },
    fn('check', 'token check and decode', check, 2, [[`${p}-upsert`], [`${p}-response`]]),
    fn('upsert', 'device upsert', upsert, 1, [[`${p}-insert`]]),
    fn('insert', 'sqlite insert', insert, 1, [[`${p}-response`]], { initialize: setup, finalize: "context.get('db').close();" }),
    { id: `${p}-response`, type: 'http response', z: `${p}-tab`, name: '', statusCode: '', headers: {}, wires: [] },
  ];
}

// The benches' PostgreSQL: a throwaway server (fsync on) and its postmaster, whose process tree's
// CPU time is the database side of a run.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { startThrowawayServer, type ThrowawayServer } from '../test/helpers/postgres';

/** The server's postmaster (its processes' CPU is the PostgreSQL side of a run). */
export async function postmasterPid(url: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const dir = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0].data_directory;
    return Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } finally {
    await client.end();
  }
}

/** A durable throwaway server's maintenance database, with its postmaster's pid; `settings` as for startThrowawayServer. */
export async function createThrowawayDatabase(settings: string[] = []): Promise<{ url: string; postmaster: number; server: ThrowawayServer; stop: () => Promise<void> }> {
  const server = await startThrowawayServer({ durable: true, settings });
  try {
    return { url: server.adminUrl, postmaster: await postmasterPid(server.adminUrl), server, stop: () => server.stop() };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

import type { Args } from '../args.js';
import type { CliContext } from '../context.js';
import { print } from '../output.js';

/** Opening the store already applied migrations (SQLite, PostgreSQL) or created indexes (MongoDB); this reports it. */
export async function migrate(ctx: CliContext, _verb: string | undefined, args: Args): Promise<void> {
  await ctx.store.ping();
  return print(ctx.io, { migrated: true, store: ctx.store.kind }, args.flag('json'), () =>
    ({ sqlite: 'SQLite schema is up to date', postgres: 'PostgreSQL schema is up to date', mongodb: 'MongoDB indexes are in place' })[ctx.store.kind],
  );
}

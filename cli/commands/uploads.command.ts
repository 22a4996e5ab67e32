/**
 * `streamwave uploads reap`: runs the upload reaper of a running server now (`POST
 * /admin/uploads/reap`, issue 8): uploads pending past STREAMWAVE_UPLOAD_EXPIRY_SECONDS are aborted
 * and failed, orphaned temp files older than the expiry removed. Prints what it did.
 */
import type { Command } from 'commander';
import { createAdminClient, resolveAdminToken } from './admin-client.ts';

/** Wire form of the admin route's answer. */
interface ReapBody {
  abandoned_uploads: { video_id: string; upload_id: string }[];
  removed_temp_entries: number;
  errors: { what: string; error: string }[];
  cutoff: string;
}

export function registerUploadsCommand(program: Command, serverOption: (cmd: Command) => Command): void {
  const uploads = program.command('uploads').description('upload housekeeping (admin)');
  serverOption(
    uploads
      .command('reap')
      .description('abandon uploads older than the expiry and remove orphaned temp files, now')
      .option('--admin-token <token>', 'admin API token (default: STREAMWAVE_ADMIN_TOKEN or <data dir>/admin.token)')
      .option('--data-dir <dir>', 'standalone data dir (admin.token lookup)', process.env.STREAMWAVE_DATA_DIR)
      .option('--json', 'print the report as JSON'),
  ).action(async (opts: { server: string; adminToken?: string; dataDir?: string; json?: boolean }) => {
    const r = await createAdminClient(opts.server, resolveAdminToken(opts)).request<ReapBody>('POST', '/admin/uploads/reap');
    if (opts.json) {
      console.log(JSON.stringify(r, null, 2));
      return;
    }
    console.log(`uploads started before ${r.cutoff}: ${r.abandoned_uploads.length} abandoned`);
    for (const u of r.abandoned_uploads) console.log(`  ${u.video_id}  upload ${u.upload_id}`);
    console.log(`orphaned temp entries removed: ${r.removed_temp_entries}`);
    for (const e of r.errors) console.log(`  not reaped: ${e.what}: ${e.error}`);
    if (r.errors.length > 0) process.exitCode = 1;
  });
}

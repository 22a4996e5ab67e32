// A node:test reporter that writes one table at the end: per test file, how many tests passed,
// failed and were skipped, and why each skip happened (the reason given to `skip`). A skipped
// suite counts once, with its reason. test/run-tests.mjs prints it after the spec reporter's output.
// Events: https://nodejs.org/api/test.html#event-testpass (data.file, data.skip, data.details.type).

/** @param {AsyncIterable<{ type: string, data: any }>} source */
export default async function* summaryReporter(source) {
  /** @type {Map<string, { passed: number, failed: number, skipped: number, reasons: Set<string> }>} */
  const files = new Map();
  /** One entry per failed test: where and why, repeated after the table (a CI log's tail is what gets read). */
  const failures = [];
  let cancelled = 0;
  const row = (file) => {
    let r = files.get(file);
    if (!r) files.set(file, (r = { passed: 0, failed: 0, skipped: 0, reasons: new Set() }));
    return r;
  };
  for await (const { type, data } of source) {
    if (type !== 'test:pass' && type !== 'test:fail') continue;
    const isSuite = data.details?.type === 'suite';
    const file = data.file ? relative(data.file) : '(no file)';
    if (data.skip) {
      const r = row(file);
      r.skipped++;
      r.reasons.add(`${data.name}: ${typeof data.skip === 'string' ? data.skip : 'skipped'}`);
    } else if (type === 'test:fail' && (!isSuite || data.details?.error?.failureType !== 'subtestsFailed')) {
      row(file).failed++;
      // A test cancelled with its suite (a failed hook) says nothing the suite's entry does not.
      if (data.details?.error?.failureType === 'cancelledByParent') cancelled++;
      else failures.push(`${file} › ${data.name}\n    ${why(data.details?.error)}`);
    } else if (!isSuite) row(file).passed++;
  }
  const rows = [...files.entries()].sort(([a], [b]) => a.localeCompare(b));
  const total = rows.reduce((t, [, r]) => ({ passed: t.passed + r.passed, failed: t.failed + r.failed, skipped: t.skipped + r.skipped }), { passed: 0, failed: 0, skipped: 0 });
  const width = Math.max(4, ...rows.map(([f]) => f.length));
  const line = (f, p, x, s, why = '') => `${f.padEnd(width)}  ${String(p).padStart(6)}  ${String(x).padStart(6)}  ${String(s).padStart(7)}  ${why}`.trimEnd();
  let out = `\nSummary: what ran and what was skipped\n${line('file', 'passed', 'failed', 'skipped', 'why skipped')}\n`;
  for (const [f, r] of rows) out += line(f, r.passed, r.failed, r.skipped, [...r.reasons].join('; ')) + '\n';
  out += line('total', total.passed, total.failed, total.skipped) + '\n';
  if (failures.length) {
    out += `\nFailed (${failures.length}), as the spec output above says in full:\n${failures.join('\n')}\n`;
    if (cancelled) out += `(and ${cancelled} cancelled with their suite)\n`;
  }
  out += `SUMMARY_JSON ${JSON.stringify(total)}\n`;
  yield out;
}

/** A failure's reason on a few lines: the test's own error (node:test wraps it in `cause`), at most 600 characters, and the exit of a file's process that failed as a whole. */
function why(error) {
  const cause = error?.cause ?? error;
  let text = String(cause?.stack ?? cause?.message ?? cause ?? 'no error given').split('\n').slice(0, 6).join('\n    ');
  if (text.length > 600) text = `${text.slice(0, 600)}…`;
  // A whole file failing (its process crashed or exited non-zero): the reason is on its stderr, above.
  if (error?.exitCode != null || error?.signal != null) text += ` (the file's process: exit code ${error.exitCode ?? '-'}, signal ${error.signal ?? '-'}; its stderr is above)`;
  return text;
}

function relative(path) {
  const cwd = process.cwd() + '/';
  return path.startsWith(cwd) ? path.slice(cwd.length) : path;
}

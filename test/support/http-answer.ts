/** A status and a body (JSON when it parses, else text) of one HTTP GET, for tests comparing answers. */
export type Answer = { status: number; body: unknown };

/** GET `base + path`, with a bearer token when given. */
export async function get(base: string, path: string, token?: string): Promise<Answer> {
  const r = await fetch(base + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await r.text();
  try {
    return { status: r.status, body: JSON.parse(text) };
  } catch {
    return { status: r.status, body: text };
  }
}

/** The answers of `url` to each of `paths`, with the origin replaced by `<origin>` (ports differ between processes). */
export async function answersAt(url: string, paths: readonly string[]): Promise<Map<string, Answer>> {
  const out = new Map<string, Answer>();
  for (const path of paths) out.set(path, JSON.parse(JSON.stringify(await get(url, path)).replaceAll(url, '<origin>')) as Answer);
  return out;
}

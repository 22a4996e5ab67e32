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

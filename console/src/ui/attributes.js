// A thing's attributes as the "key=value" entries the forms edit.

export const attributeEntries = (attributes) =>
  Object.entries(attributes ?? {}).map(([key, value]) => `${key}=${value}`);

/** `{attributes}` from "key=value" entries, or `{error}` naming the first bad one. */
export function parseAttributes(entries) {
  const attributes = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at <= 0) return { error: `“${entry}” is not key=value` };
    attributes[entry.slice(0, at).trim()] = entry.slice(at + 1).trim();
  }
  return { attributes };
}

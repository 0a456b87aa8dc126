// JSON requests to this server: the collection (/api/music/...) and library-sync (/api/me/...).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function request(method, url, body, extra) {
  const options = Object.assign({ method, headers: {} }, extra || {});
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await window.mediahub.fetch(url, options);
  let data = null;
  try { data = await response.json(); } catch (error) { data = null; }
  if (!response.ok) {
    const problem = (data && data.error) || {};
    throw new ApiError(response.status, problem.code || "http_" + response.status,
                       problem.message || response.statusText || "request failed");
  }
  return data;
}

export function getJSON(url, extra) {
  return request("GET", url, undefined, extra);
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? "?" + text : "";
}

// Tracks by id in the order asked (ids the collection lacks are left out), in chunks so
// a long queue or playlist stays within a sane URL length.
export async function tracksByIds(ids) {
  const wanted = ids.filter((id) => typeof id === "string" && id.startsWith("tr-"));
  const found = [];
  for (let start = 0; start < wanted.length; start += 100) {
    const chunk = wanted.slice(start, start + 100);
    const data = await getJSON("/api/music/tracks" + query({ ids: chunk.join(",") }));
    found.push(...data.tracks);
  }
  return found;
}

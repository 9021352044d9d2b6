// A stand-in for an internal portal: serves, on the port given, one page that frames the
// Gantry page named by ?src=. The browser tests open it at http://localhost:<port> (another
// site than Gantry's http://127.0.0.1) to embed Gantry the way a real portal does.
import { createServer } from "node:http";

const port = Number(process.argv[2]);
createServer((req, res) => {
  const url = new URL(req.url, `http://localhost:${port}`);
  if (url.pathname === "/healthz") return res.end("ok");
  const src = url.searchParams.get("src") ?? "";
  const escaped = src.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  res.setHeader("Content-Type", "text/html; charset=utf-8");
  res.end(`<!doctype html><title>Portal</title><h1>Team portal</h1>
<iframe title="Gantry" src="${escaped}" width="900" height="600"></iframe>`);
}).listen(port, "127.0.0.1");

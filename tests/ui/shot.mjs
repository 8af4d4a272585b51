// Ad-hoc: screenshot a URL of a running server (for looking at the UI while building it).
//   node shot.mjs URL out.png [dark]
import { launch } from "./lib/browser.mjs";
const [url, out, scheme] = process.argv.slice(2);
const { context, close } = await launch({ colorScheme: scheme === "dark" ? "dark" : "light" });
const page = await context.newPage();
await page.setViewportSize({ width: 1400, height: 860 });
await page.goto(url);
await page.waitForTimeout(1500);
await page.screenshot({ path: out });
await close();

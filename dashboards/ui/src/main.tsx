import { render } from "preact";
import { App } from "./app/App";
import { interceptLinks } from "./lib/router";
import "./styles/global.css";

interceptLinks();
render(<App />, document.getElementById("app")!);

// The upload page's entry point (a file, not an inline script, so the CSP can forbid inline code).
import { mountUploader } from "./page.js";

mountUploader(document.getElementById("uploader"));

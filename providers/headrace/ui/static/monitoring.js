/* Headrace UI: the monitoring page (needs headrace.js, loaded before it). */
"use strict";

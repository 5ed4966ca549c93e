/* Headrace UI: the ingestion page (needs headrace.js, loaded before it). */
"use strict";

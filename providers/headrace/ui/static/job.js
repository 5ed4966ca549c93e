/* Headrace UI: a job's page (needs headrace.js, loaded before it). */
"use strict";

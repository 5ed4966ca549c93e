/* Headrace UI: the workflows page (needs headrace.js, loaded before it). */
"use strict";

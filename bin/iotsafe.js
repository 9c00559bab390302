#!/usr/bin/env node
import "../dist/hosts/cli/main.js";

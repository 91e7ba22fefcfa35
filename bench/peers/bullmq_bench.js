#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// BullMQ beside deferd (bench/run peers): COUNT jobs added with addBulk
// before the worker starts (the equivalent of COUNT jobs due at one
// instant), then one Worker with a no-op processor and the given
// concurrency runs them. Measured from the worker's creation to the last
// "completed" event: jobs/s, Redis CPU per job (INFO cpu used_cpu_sys +
// used_cpu_user delta over that window, after CONFIG RESETSTAT, whose INFO
// commandstats goes to --cmdstats FILE) and this process's CPU per job.
// Jobs are added with removeOnComplete/removeOnFail (nothing is kept after
// the run, like deferd with no result TTL). Prints KEY=VALUE lines (B_...).
//
// usage: bullmq_bench.js --socket PATH --count N --concurrency C
//            [--timeout S] [--cmdstats FILE] [--queue NAME]
// Needs bench/peers/node_modules (npm ci in bench/peers).
'use strict';

const fs = require('node:fs');
const { performance } = require('node:perf_hooks');
const IORedis = require('ioredis');
const { Queue, Worker } = require('bullmq');

function args() {
	const a = { timeout: 300, cmdstats: '', queue: 'bench' };
	const v = process.argv.slice(2);
	for (let i = 0; i < v.length; i += 2) {
		const k = v[i].replace(/^--/, '');
		if (!['socket', 'count', 'concurrency', 'timeout', 'cmdstats', 'queue'].includes(k) ||
		    v[i + 1] === undefined) {
			console.error('usage: bullmq_bench.js --socket PATH --count N ' +
			    '--concurrency C [--timeout S] [--cmdstats FILE] [--queue NAME]');
			process.exit(2);
		}
		a[k] = v[i + 1];
	}
	if (!a.socket || !(+a.count > 0) || !(+a.concurrency > 0)) {
		console.error('bullmq_bench.js: --socket, --count and --concurrency are needed');
		process.exit(2);
	}
	a.count = +a.count;
	a.concurrency = +a.concurrency;
	a.timeout = +a.timeout;
	return a;
}

function cpuSeconds(info) {
	let s = 0;
	for (const line of info.split(/\r?\n/)) {
		const m = /^used_cpu_(sys|user):([0-9.]+)$/.exec(line);
		if (m)
			s += parseFloat(m[2]);
	}
	return s;
}

function clientCpuSeconds() {
	const u = process.cpuUsage();
	return (u.user + u.system) / 1e6;
}

async function main() {
	const a = args();
	const connection = { path: a.socket, maxRetriesPerRequest: null };
	const admin = new IORedis({ path: a.socket });
	const out = (k, v) => console.log('B_' + k + '=' + v);
	const policy = await admin.config('GET', 'maxmemory-policy');
	if (policy[1] !== 'noeviction')
		console.error('bullmq_bench.js: warning: maxmemory-policy is ' + policy[1]);

	const queue = new Queue(a.queue, { connection });
	await queue.obliterate({ force: true });
	const tl0 = performance.now();
	for (let i = 0; i < a.count; i += 1000) {
		const jobs = [];
		for (let j = i; j < Math.min(a.count, i + 1000); j++)
			jobs.push({ name: 'noop', data: { n: j },
			    opts: { removeOnComplete: true, removeOnFail: true } });
		await queue.addBulk(jobs);
	}
	out('load_s', ((performance.now() - tl0) / 1000).toFixed(3));
	out('waiting_before', await queue.count());

	let done = 0, failed = 0, first = null, t1 = null, r1 = null, c1 = null;
	let finish;
	const finished = new Promise((resolve) => { finish = resolve; });
	const timer = setTimeout(() => finish(false), a.timeout * 1000);

	await admin.config('RESETSTAT');
	const r0 = cpuSeconds(await admin.info('cpu'));
	const c0 = clientCpuSeconds();
	const t0 = performance.now();
	const worker = new Worker(a.queue, async () => {}, {
		connection, concurrency: a.concurrency, autorun: true,
	});
	worker.on('completed', () => {
		if (first === null)
			first = performance.now();
		if (++done + failed === a.count) {
			t1 = performance.now();
			c1 = clientCpuSeconds();
			finish(true);
		}
	});
	worker.on('failed', () => {
		if (++failed + done === a.count) {
			t1 = performance.now();
			c1 = clientCpuSeconds();
			finish(true);
		}
	});
	worker.on('error', (e) => console.error('bullmq_bench.js: worker: ' + e.message));

	const ok = await finished;
	clearTimeout(timer);
	if (ok) {
		r1 = cpuSeconds(await admin.info('cpu'));
	} else {
		t1 = performance.now();
		c1 = clientCpuSeconds();
		r1 = cpuSeconds(await admin.info('cpu'));
		console.error('bullmq_bench.js: timeout: ' + done + ' of ' + a.count + ' done');
	}
	if (a.cmdstats)
		fs.writeFileSync(a.cmdstats, await admin.info('commandstats'));
	await worker.close();
	const counts = await queue.getJobCounts('waiting', 'active', 'delayed',
	    'failed', 'prioritized', 'paused', 'waiting-children');
	const left = Object.values(counts).reduce((x, y) => x + y, 0);
	const secs = (t1 - t0) / 1000;
	out('jobs', done);
	out('failed', failed);
	out('done_s', secs.toFixed(3));
	out('done_jobs_per_s', (done / secs).toFixed(0));
	out('first_done_ms', first === null ? '' : (first - t0).toFixed(1));
	out('redis_cpu_us_per_job', ((r1 - r0) * 1e6 / a.count).toFixed(1));
	out('client_cpu_us_per_job', ((c1 - c0) * 1e6 / a.count).toFixed(1));
	out('left', left);
	out('lost', left + Math.max(0, a.count - done - failed) + failed);
	await queue.obliterate({ force: true });
	await queue.close();
	await admin.quit();
	return ok ? 0 : 1;
}

main().then((rc) => process.exit(rc), (e) => {
	console.error('bullmq_bench.js: ' + (e && e.stack ? e.stack : e));
	process.exit(1);
});

// Language runtimes that manage memory their own way, under the library, each compared
// with the same run under glibc and each proving service through its stats lines:
//   java   javac (itself a JVM) compiles a multi-threaded program into the same class files;
//          java runs it on G1 with two parallel GC threads and the JIT compilers: workers
//          build HashMaps, StringBuilders, arrays, zlib streams and malloc'ed direct
//          buffers and hand objects to a consumer thread through a queue; hot code meets
//          null, which compiled code turns into SIGSEGVs for the JVM's signal handler
//   node   the main thread and three worker_threads build Maps of objects and strings,
//          round-trip them through JSON and gzip, allocate Buffers (malloc'ed backing
//          stores) and hash them; each worker transfers an ArrayBuffer to the main thread
// The programs are written at test time into temporary folders. Two classes so that xunit
// runs them side by side on the two cores.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using FtMalloc.Cli.Stats;
using Xunit.Abstractions;

namespace FtMalloc.Tests.Programs;

internal static class RuntimeChecks
{
    /// <summary>No process of the run reported a bad or double free.</summary>
    public static void AssertNoMisuse(RunResult run)
    {
        foreach (StatsLine stats in run.Stats)
            Assert.True(stats.Fields["misuse_detected"] == 0,
                $"the library detected misuse in pid {stats.Pid}\n{run.Describe()}");
    }
}

/// <summary>javac and java (OpenJDK 17) under the library.</summary>
public sealed class JavaProgramTests
{
    private readonly ITestOutputHelper _output;

    public JavaProgramTests(ITestOutputHelper output) => _output = output;

    /// <summary>No option of the test host's reaches the JVMs ("Picked up ..." lines, other heaps).</summary>
    private static readonly Dictionary<string, string?> s_environment = new()
    {
        ["JAVA_TOOL_OPTIONS"] = null,
        ["_JAVA_OPTIONS"] = null,
        ["JDK_JAVA_OPTIONS"] = null,
    };

    [Fact(DisplayName = "javac compiles a multi-threaded program into the same classes, and java runs it to the same output")]
    public void Javac_and_java()
    {
        using var glibc = new TempDirectory("java-glibc");
        using var served = new TempDirectory("java-served");
        foreach (string root in new[] { glibc.Path, served.Path })
            File.WriteAllText(Path.Combine(root, "Main.java"), Program);

        var compile = new RunSpec("javac", "-d", "classes", "Main.java") { Environment = new(s_environment) };
        var (_, javac) = Compare.RunIn(glibc.Path, served.Path, compile, minMallocs: 10_000, _output);
        Assert.True(javac.ExitCode == 0, javac.Describe());
        RuntimeChecks.AssertNoMisuse(javac);
        SortedDictionary<string, string> classes = Compare.Tree(glibc["classes"]);
        Assert.Equal(new[] { "Main$Parcel.class", "Main.class" }, classes.Keys);
        Assert.Equal(classes, Compare.Tree(served["classes"]));

        // The collector and its thread count are fixed, not left to the machine's ergonomics.
        var run = new RunSpec("java", "-Xmx64m", "-XX:+UseG1GC", "-XX:ParallelGCThreads=2", "-XX:ConcGCThreads=1",
            "-cp", "classes", "Main")
        {
            Environment = new(s_environment),
        };
        var (_, java) = Compare.RunIn(glibc.Path, served.Path, run, minMallocs: 5_000, _output);
        Assert.True(java.ExitCode == 0, java.Describe());
        RuntimeChecks.AssertNoMisuse(java);
        Assert.Contains("parcels per sender {0=320, 1=320, 2=320, 3=320}\n", java.Stdout);
        Assert.Contains("null pointers: 640000 caught, 1820000 letters\n", java.Stdout);
        Assert.Matches(@"\ntotal [0-9a-f]{16}\n$", java.Stdout);
    }

    private const string Program = """
        import java.nio.ByteBuffer;
        import java.util.ArrayList;
        import java.util.Arrays;
        import java.util.HashMap;
        import java.util.List;
        import java.util.Map;
        import java.util.TreeMap;
        import java.util.concurrent.ArrayBlockingQueue;
        import java.util.concurrent.BlockingQueue;
        import java.util.zip.CRC32;
        import java.util.zip.Deflater;

        public final class Main {
            static final int WORKERS = 4;
            static final int ROUNDS = 40;
            static final int PARCELS_PER_ROUND = 8;
            static final Parcel END = new Parcel(-1, null, null, null);

            record Parcel(int from, int[] numbers, String label, ByteBuffer direct) {}

            public static void main(String[] args) throws Exception {
                BlockingQueue<Parcel> queue = new ArrayBlockingQueue<>(32);
                long[] results = new long[WORKERS];
                Thread[] workers = new Thread[WORKERS];
                for (int w = 0; w < WORKERS; w++) {
                    final int id = w;
                    workers[w] = new Thread(() -> results[id] = work(id, queue), "worker-" + w);
                    workers[w].start();
                }
                // The consumer frees what the workers made; its sums do not depend on the order.
                long[] consumed = new long[2];
                Map<Integer, Integer> perSender = new TreeMap<>();
                Thread consumer = new Thread(() -> {
                    int ends = 0;
                    try {
                        while (ends < WORKERS) {
                            Parcel p = queue.take();
                            if (p == END) { ends++; continue; }
                            long sum = 0;
                            for (int n : p.numbers()) sum = sum * 31 + n;
                            ByteBuffer b = p.direct();
                            for (int i = 0; i < b.capacity(); i += 64) sum += b.get(i);
                            CRC32 crc = new CRC32();
                            crc.update(p.label().getBytes());
                            consumed[1] += crc.getValue();
                            consumed[0] += sum;
                            perSender.merge(p.from(), 1, Integer::sum);
                        }
                    } catch (InterruptedException e) {
                        throw new RuntimeException(e);
                    }
                }, "consumer");
                consumer.start();
                for (Thread t : workers) t.join();
                consumer.join();
                String nulls = nullChecks();
                System.gc();
                long total = 0;
                for (int w = 0; w < WORKERS; w++) {
                    System.out.printf("worker %d: %016x%n", w, results[w]);
                    total ^= results[w];
                }
                System.out.println("parcels per sender " + perSender);
                System.out.printf("parcel sum %d, label crc sum %x%n", consumed[0], consumed[1]);
                System.out.println("null pointers: " + nulls);
                System.out.printf("total %016x%n", total);
            }

            // Hot code that meets null: compiled, its null checks are implicit (a SIGSEGV that the
            // JVM's signal handler turns into the exception) until the JIT recompiles it.
            static String nullChecks() {
                String[] words = new String[64];
                for (int i = 0; i < words.length; i += 2) words[i] = "w" + i;
                int caught = 0, letters = 0;
                for (int round = 0; round < 20000; round++) {
                    for (String word : words) {
                        try {
                            letters += word.length();
                        } catch (NullPointerException e) {
                            caught++;
                        }
                    }
                }
                return caught + " caught, " + letters + " letters";
            }

            static long work(int id, BlockingQueue<Parcel> queue) {
                long h = 1469598103934665603L + id;
                try {
                    for (int round = 0; round < ROUNDS; round++) {
                        Map<String, List<Integer>> map = new HashMap<>();
                        StringBuilder text = new StringBuilder();
                        for (int i = 0; i < 5000; i++) {
                            String key = "k" + ((i * 7919 + round * 31 + id) % 1009);
                            map.computeIfAbsent(key, k -> new ArrayList<>()).add(i ^ round);
                            text.append(key).append(i % 10 == 0 ? '\n' : ' ');
                        }
                        for (Map.Entry<String, List<Integer>> e : map.entrySet()) {
                            h = h * 1099511628211L + e.getKey().hashCode();
                            for (int v : e.getValue()) h += v;
                        }
                        int[] array = new int[1000 + round * 50];
                        for (int i = 0; i < array.length; i++) array[i] = (int) (h >>> (i % 32)) + i;
                        Arrays.sort(array);
                        h ^= array[array.length / 2];
                        byte[] bytes = text.toString().getBytes();
                        Deflater deflater = new Deflater(round % 9 + 1);
                        deflater.setInput(bytes);
                        deflater.finish();
                        byte[] packed = new byte[bytes.length + 64];
                        int length = deflater.deflate(packed);
                        deflater.end();
                        h = h * 31 + length;
                        // Direct buffers are malloc'ed; the consumer drops the last reference.
                        ByteBuffer direct = ByteBuffer.allocateDirect(4096 + 1024 * (round % 7));
                        for (int i = 0; i < direct.capacity(); i++) direct.put(i, (byte) (i * 13 + round));
                        for (int p = 0; p < PARCELS_PER_ROUND; p++) {
                            int[] numbers = new int[16 + p];
                            for (int i = 0; i < numbers.length; i++) numbers[i] = id * 100000 + round * 100 + p + i;
                            queue.put(new Parcel(id, numbers, "w" + id + "r" + round + "p" + p, direct));
                        }
                    }
                    queue.put(END);
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
                return h;
            }
        }
        """;
}

/// <summary>node (Node.js 18 or later) with worker_threads under the library.</summary>
public sealed class NodeProgramTests
{
    private readonly ITestOutputHelper _output;

    public NodeProgramTests(ITestOutputHelper output) => _output = output;

    [Fact(DisplayName = "node with three worker_threads builds Maps, JSON and Buffers to the same results")]
    public void Node_with_worker_threads()
    {
        using var dir = new TempDirectory("node");
        File.WriteAllText(dir["script.js"], Script);
        var spec = new RunSpec("node", dir["script.js"]) { Environment = { ["NODE_OPTIONS"] = null } };
        var (_, node) = Compare.Run(spec, minMallocs: 100_000, _output);
        Assert.True(node.ExitCode == 0, node.Describe());
        RuntimeChecks.AssertNoMisuse(node);

        string[] lines = node.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Length);
        Assert.Matches("^total [0-9a-f]{16}$", lines[4]);
        JsonElement[] results = lines.Take(4).Select(line => JsonSerializer.Deserialize<JsonElement>(line)).ToArray();
        Assert.Equal(new[] { 0, 1, 2, 3 }, results.Select(r => r.GetProperty("seed").GetInt32()));
        Assert.All(results, r => Assert.Equal(10007, r.GetProperty("keys").GetInt32()));
        Assert.All(results.Skip(1), r => Assert.Equal(256 * 1024, r.GetProperty("payloadLength").GetInt32()));

        // Buffers live in memory the runtime malloc'ed: the library was asked for all of it.
        long bufferBytes = results.Sum(r => r.GetProperty("bytes").GetInt64());
        long requested = node.OwnStats!.Fields["bytes_requested"];
        Assert.True(requested >= bufferBytes,
            $"the library was asked for {requested} bytes, less than the {bufferBytes} bytes of Buffers\n{node.Describe()}");
    }

    private const string Script = """
        'use strict';
        const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
        const crypto = require('crypto');
        const zlib = require('zlib');

        function sha(data) {
          return crypto.createHash('sha256').update(data).digest('hex').slice(0, 16);
        }

        // Maps of objects and strings, a JSON round trip, Buffers and zlib: the same work on
        // every thread, seeded differently.
        function work(seed) {
          const map = new Map();
          for (let i = 0; i < 30000; i++) {
            const key = 'key-' + ((i * 7919 + seed * 31) % 10007);
            let entry = map.get(key);
            if (entry === undefined) {
              entry = { key, count: 0, tags: [], text: '' };
              map.set(key, entry);
            }
            entry.count++;
            if (entry.tags.length < 8) entry.tags.push(`t${i % 97}-${seed}`);
            entry.text += String.fromCharCode(97 + (i % 26));
          }
          const json = JSON.stringify(Array.from(map.values()));
          const back = JSON.parse(json);
          if (back.length !== map.size || JSON.stringify(back) !== json) throw new Error('JSON round trip changed the data');
          const buffers = [];
          let bytes = 0;
          for (let i = 0; i < 400; i++) {
            const size = 1024 + ((i * 2654435761 + seed) % 65536);
            const b = Buffer.alloc(size, (i + seed) & 0xff);
            b.writeUInt32LE(i, 0);
            buffers.push(b);
            bytes += size;
            if (buffers.length > 50) buffers.splice(i % 50, 1);
          }
          const joined = Buffer.concat(buffers);
          const packed = zlib.gzipSync(Buffer.from(json), { level: 6 });
          const unpacked = zlib.gunzipSync(packed).toString();
          if (unpacked !== json) throw new Error('gzip round trip changed the data');
          return {
            seed, keys: map.size, jsonLength: json.length, jsonSha: sha(json),
            bytes, joinedLength: joined.length, joinedSha: sha(joined),
          };
        }

        if (isMainThread) {
          const workers = 3;
          const pending = [];
          for (let w = 0; w < workers; w++) {
            pending.push(new Promise((resolve, reject) => {
              const worker = new Worker(__filename, { workerData: { seed: w + 1 } });
              worker.on('message', (message) => {
                // The worker transferred its Buffer's memory: it is freed on this thread.
                const received = Buffer.from(message.payload);
                resolve({ ...message.result, payloadLength: received.length, payloadSha: sha(received) });
              });
              worker.on('error', reject);
              worker.on('exit', (code) => { if (code !== 0) reject(new Error(`worker ${w} exited with ${code}`)); });
            }));
          }
          const own = work(0);
          Promise.all(pending).then((results) => {
            for (const r of [own, ...results]) console.log(JSON.stringify(r));
            const total = sha(results.map((r) => r.jsonSha + r.joinedSha + r.payloadSha).join('') + own.jsonSha);
            console.log(`total ${total}`);
          }, (error) => { console.error(error); process.exitCode = 1; });
        } else {
          const result = work(workerData.seed);
          const payload = new ArrayBuffer(256 * 1024);
          new Uint8Array(payload).fill(workerData.seed * 7);
          parentPort.postMessage({ result, payload }, [payload]);
        }
        """;
}

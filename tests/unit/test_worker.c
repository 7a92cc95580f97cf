/* The worker's pure parts: retry backoff, the container allowlist, the
 * ffprobe/ffmpeg command lines, ffprobe's answer and the client-safe
 * reason. ffmpeg.c is included to reach its statics (h2o style). */
#include <math.h>

#include "check.h"
#include "worker/worker.h"
#include "../../app/worker/ffmpeg.c"
#include "../../app/worker/recordings.c"

#include <sys/stat.h>
#include <unistd.h>

static int has_pair(const argv_buf *b, const char *opt, const char *val)
{
    for (int i = 0; i + 1 < b->argc; i++)
        if (strcmp(b->argv[i], opt) == 0 && strcmp(b->argv[i + 1], val) == 0)
            return 1;
    return 0;
}

static int index_of(const argv_buf *b, const char *arg)
{
    for (int i = 0; i < b->argc; i++)
        if (strcmp(b->argv[i], arg) == 0)
            return i;
    return -1;
}

static void test_backoff(void)
{
    CHECK(worker_backoff(1, 5, 600, 1.0) == 5.0);
    CHECK(worker_backoff(2, 5, 600, 1.0) == 10.0);
    CHECK(worker_backoff(3, 5, 600, 0.0) == 10.0); /* jitter halves at most */
    CHECK(worker_backoff(8, 5, 600, 1.0) == 600.0); /* 5 * 2^7 = 640, capped */
    int attempts[] = {0, -5, 31, 100, 1000, 2147483647};
    for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
        double d = worker_backoff(attempts[i], 5, 600, 0.5);
        CHECK(isfinite(d) && d >= 2.5 && d <= 600);
    }
    CHECK(worker_backoff(100, 5, 600, 0.0) == 300.0);
}

static void test_allowlist(void)
{
    CHECK_STR(ffmpeg_allowed_demuxer("mov,mp4,m4a,3gp,3g2,mj2"), "mov");
    CHECK_STR(ffmpeg_allowed_demuxer("matroska,webm"), "matroska");
    CHECK_STR(ffmpeg_allowed_demuxer("flv"), "flv");
    CHECK_STR(ffmpeg_allowed_demuxer("mpegts"), "mpegts");
    CHECK_STR(ffmpeg_allowed_demuxer("avi"), "avi");
    /* meta-formats and everything not a video container */
    const char *refused[] = {"hls", "concat", "image2", "png_pipe", "tty", "mov", "webm",
                             "mov,mp4", "", "lavfi", "ffmetadata", "dash", "sdp", "rtsp",
                             "mpegts,hls", "matroska,webm,hls", "srt", "mpjpeg"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        CHECK(ffmpeg_allowed_demuxer(refused[i]) == NULL);
    CHECK(ffmpeg_allowed_demuxer(NULL) == NULL);
    /* the whitelist names no meta-format */
    CHECK(strstr(ffmpeg_upload_formats, "hls") == NULL);
    CHECK(strstr(ffmpeg_upload_formats, "concat") == NULL);
    CHECK(strstr(ffmpeg_upload_formats, "image") == NULL);
}

static void test_probe_argv(void)
{
    argv_buf b;
    CHECK(ffmpeg_probe_argv(&b, "file:/u/a.mp4", "file", ffmpeg_upload_formats, NULL) > 0);
    CHECK_STR(b.argv[0], "ffprobe");
    CHECK(has_pair(&b, "-protocol_whitelist", "file"));
    CHECK(has_pair(&b, "-format_whitelist", ffmpeg_upload_formats));
    CHECK(index_of(&b, "-f") < 0);
    CHECK_STR(b.argv[b.argc - 1], "file:/u/a.mp4");
    CHECK(b.argv[b.argc] == NULL);
    /* tags are never printed, so any length of metadata parses */
    CHECK(has_pair(&b, "-show_entries", "format=format_name,duration:stream=codec_type,width,height,"
                                        "avg_frame_rate,r_frame_rate,nb_frames,sample_aspect_ratio:"
                                                "stream_side_data=rotation"));
    CHECK(index_of(&b, "-show_format") < 0);
    /* a stream's recording: its own format, forced */
    CHECK(ffmpeg_probe_argv(&b, "concatf:/t/list", "concatf,file", "mpegts", "mpegts") > 0);
    CHECK(has_pair(&b, "-f", "mpegts"));
    CHECK(has_pair(&b, "-format_whitelist", "mpegts"));
    CHECK(index_of(&b, "-f") < index_of(&b, "concatf:/t/list"));
    /* too long to fit: refused, not truncated */
    static char huge[9000];
    memset(huge, 'a', sizeof huge - 1);
    CHECK(ffmpeg_probe_argv(&b, huge, "file", "mov", NULL) == -1);
}

static void test_encode_argv(void)
{
    argv_buf b;
    int h[] = {720, 480, 360};
    encode_plan p = {.input = "file:/u/a.mp4", .demuxer = "mov", .protocols = "file",
                     .formats = "mov", .heights = h, .n = 3, .audio = true, .out_dir = "/m/.j.tmp",
                     .threads = 2};
    CHECK(ffmpeg_encode_argv(&b, &p) > 0);
    CHECK_STR(b.argv[0], "ffmpeg");
    int i_at = index_of(&b, "-i");
    CHECK(i_at > 0 && strcmp(b.argv[i_at + 1], "file:/u/a.mp4") == 0);
    /* protocols, demuxers and the forced format come before the input */
    CHECK(index_of(&b, "-protocol_whitelist") >= 0 && index_of(&b, "-protocol_whitelist") < i_at);
    CHECK(has_pair(&b, "-f", "mov") && index_of(&b, "mov") < i_at);
    CHECK(has_pair(&b, "-format_whitelist", "mov"));
    CHECK(index_of(&b, "-safe") < 0);
    CHECK(has_pair(&b, "-filter_complex",
                   "[0:v]split=3[s0][s1][s2];[s0]scale=-2:720[o0];[s1]scale=-2:480[o1];[s2]scale=-2:360[o2]"));
    CHECK(has_pair(&b, "-b:v:0", "2880k") && has_pair(&b, "-b:v:2", "1440k"));
    CHECK(has_pair(&b, "-var_stream_map", "v:0,a:0 v:1,a:1 v:2,a:2"));
    CHECK(has_pair(&b, "-hls_segment_filename", "/m/.j.tmp/v%v/seg%03d.ts"));
    CHECK_STR(b.argv[b.argc - 1], "/m/.j.tmp/v%v/index.m3u8");
    CHECK(has_pair(&b, "-progress", "pipe:1"));
    CHECK(index_of(&b, "-nostdin") > 0);
    CHECK(index_of(&b, "-t") < 0); /* no budget: no -t */
    /* the same plan twice gives the same command: nothing shared between calls */
    argv_buf b2;
    CHECK(ffmpeg_encode_argv(&b2, &p) == b.argc);
    for (int i = 0; i < b.argc; i++)
        CHECK_STR(b2.argv[i], b.argv[i]);
    /* no audio, our own concat list */
    p.audio = false;
    p.concat = true;
    p.demuxer = "concat";
    p.n = 1;
    CHECK(ffmpeg_encode_argv(&b, &p) > 0);
    CHECK(has_pair(&b, "-safe", "0"));
    CHECK(has_pair(&b, "-var_stream_map", "v:0"));
    CHECK(index_of(&b, "0:a:0") < 0);
    CHECK(index_of(&b, "aac") < 0);
    /* the budget's bound on the output, an output option (after -i) */
    p.max_seconds = 12.5;
    CHECK(ffmpeg_encode_argv(&b, &p) > 0);
    CHECK(has_pair(&b, "-t", "12.500") && index_of(&b, "-t") > index_of(&b, "-i"));
    p.n = 0;
    CHECK(ffmpeg_encode_argv(&b, &p) == -1);
    p.n = 9;
    CHECK(ffmpeg_encode_argv(&b, &p) == -1);
}

/* The extras from the ladder's own decode: one split feeds every branch,
 * the audio-only variant is the next var_stream_map index, the image
 * outputs come after the HLS one; the MP4 copies read only our playlists. */
static void test_encode_argv_extras(void)
{
    argv_buf b;
    int h[] = {480, 360};
    ladder_step st[] = {{.height = 480, .video_kbps = 1920, .audio_kbps = 128},
                        {.height = 360, .video_kbps = 1440, .audio_kbps = -1}};
    extras_plan x = {.poster = true, .poster_t = 2, .poster_n = 10, .poster_w = 854,
                     .poster_h = 480, .storyboard = true, .sb_interval = 2.5, .sb_tiles = 4,
                     .sb_w = 160, .sb_h = 90, .sb_cols = 4, .sb_rows = 1, .audio_only = true,
                     .audio_only_kbps = 96};
    encode_plan p = {.input = "file:/u/a.mp4", .demuxer = "mov", .protocols = "file",
                     .formats = "mov", .heights = h, .n = 2, .audio = true, .out_dir = "/m/.j.tmp",
                     .threads = 2, .steps = st, .extras = &x, .max_seconds = 30};
    CHECK(ffmpeg_encode_argv(&b, &p) > 0);
    CHECK(has_pair(&b, "-filter_complex",
                   "[0:v]split=4[s0][s1][xp][xs];[s0]scale=-2:480[o0];[s1]scale=-2:360[o1];"
                   "[xp]split=2[pa][pb];[pa]trim=end_frame=1,scale=854:480,setsar=1[p0];"
                   "[pb]fps=1:start_time=2.000:eof_action=pass,"
                   "select='lt(selected_n\\,10)*if(lt(selected_n\\,5)\\,1\\,"
                   "gte(t-prev_selected_t\\,1))',scale=854:480,setsar=1[p1];[p0][p1]concat=n=2:v=1:a=0,setpts=N/(25*TB),split=2[pj][pq];"
                   "[pq]scale=32:32,format=gray[pg];"
                   "[xs]split=2[sa][sc];[sa]trim=end_frame=1,scale=640:90,setsar=1[q0];"
                   "[sc]fps=1000/2500:eof_action=pass,scale=160:90,tile=4x1,setsar=1[q1];"
                   "[q0][q1]concat=n=2:v=1:a=0,setpts=N/(25*TB)[sb]"));
    CHECK(has_pair(&b, "-var_stream_map", "v:0,a:0 v:1 a:1"));
    CHECK(has_pair(&b, "-b:a:0", "128k") && has_pair(&b, "-b:a:1", "96k"));
    int hls = index_of(&b, "/m/.j.tmp/v%v/index.m3u8");
    CHECK(hls > 0 && index_of(&b, "/m/.j.tmp/poster-cand-%02d.jpg") > hls);
    CHECK(index_of(&b, "/m/.j.tmp/poster-cand.grey") > hls);
    CHECK_STR(b.argv[b.argc - 1], "/m/.j.tmp/storyboard-sheet-%d.jpg");
    CHECK(has_pair(&b, "-map", "[sb]") && has_pair(&b, "-frames:v", "2"));
    /* each image output encodes on one thread (not one a core) */
    int images = 0;
    for (int i = hls; i < b.argc; i++)
        if (!strcmp(b.argv[i], "-map")) {
            images++;
            int th = i;
            while (th < b.argc && strcmp(b.argv[th], "-threads"))
                th++;
            CHECK(th + 1 < b.argc && !strcmp(b.argv[th + 1], "1"));
        }
    CHECK_INT(images, 3);
    /* a source without audio: no audio-only variant, whatever the plan */
    p.audio = false;
    CHECK(ffmpeg_encode_argv(&b, &p) > 0);
    CHECK(has_pair(&b, "-var_stream_map", "v:0 v:1"));
    CHECK(index_of(&b, "aac") < 0);
    /* nothing beside the ladder */
    x.poster = x.storyboard = false;
    CHECK(ffmpeg_encode_argv(&b, &p) > 0);
    CHECK(has_pair(&b, "-filter_complex",
                   "[0:v]split=2[s0][s1];[s0]scale=-2:480[o0];[s1]scale=-2:360[o1]"));
    CHECK_STR(b.argv[b.argc - 1], "/m/.j.tmp/v%v/index.m3u8");

    const char *names[] = {"480p", "360p"};
    CHECK(ffmpeg_mp4_argv(&b, "/m/.j.tmp", 2, names) > 0);
    CHECK(has_pair(&b, "-i", "file:/m/.j.tmp/v0/index.m3u8"));
    CHECK(has_pair(&b, "-i", "file:/m/.j.tmp/v1/index.m3u8"));
    CHECK(has_pair(&b, "-protocol_whitelist", "file") && has_pair(&b, "-format_whitelist", "hls,mpegts"));
    CHECK(has_pair(&b, "-c", "copy") && has_pair(&b, "-movflags", "+faststart"));
    CHECK_STR(b.argv[b.argc - 1], "file:/m/.j.tmp/mp4/360p.mp4");
    CHECK(has_pair(&b, "-progress", "pipe:1"));
    CHECK(ffmpeg_mp4_argv(&b, "/m", 0, names) == -1);
}

static void test_ladder(void)
{
    int h[8];
    CHECK_INT(ffmpeg_ladder("720,480,360", 720, h), 3);
    CHECK(h[0] == 720 && h[1] == 480 && h[2] == 360);
    CHECK_INT(ffmpeg_ladder("720,480,360", 480, h), 2);
    CHECK_INT(ffmpeg_ladder("720,480,360", 240, h), 1);
    CHECK_INT(h[0], 240);
    CHECK_INT(ffmpeg_ladder("721", 1080, h), 1);
    CHECK_INT(h[0], 720); /* even */
    CHECK_INT(ffmpeg_ladder("1,2,3,4,5,6,7,8,9,10", 1080, h), 8);
    CHECK_INT(ffmpeg_ladder("", 301, h), 1);
    CHECK_INT(h[0], 300);
}

/* A profile's ladder (ffmpeg_profile_ladder) and its command: sizes, no
 * upscale, the encoder's choice of bitrates, a rendition without audio. */
static void test_profile_ladder(void)
{
    profile p = {.nrend = 4, .hls = true};
    p.rend[0] = (rendition){.height = 1080, .video_kbps = 5000, .codec = "h264"};
    p.rend[1] = (rendition){.width = 1280, .height = 720, .codec = "h264", .audio_kbps = 96};
    p.rend[2] = (rendition){.width = 640, .video_kbps = 700, .codec = "h264", .audio_kbps = -1};
    p.rend[3] = (rendition){.height = 240, .codec = "h264"};
    ladder_step st[8];
    /* a 1280x720 source: 1080 would upscale and is left out */
    CHECK_INT(ffmpeg_profile_ladder(&p, 1280, 720, st), 3);
    CHECK(st[0].width == 1280 && st[0].height == 720);
    CHECK(st[0].video_kbps == 2880 && st[0].audio_kbps == 96); /* 0: 4 kbps a line */
    CHECK(st[1].width == 0 && st[1].height == 360);            /* width only: the aspect */
    CHECK(st[1].video_kbps == 700 && st[1].audio_kbps == -1);
    CHECK(st[2].height == 240 && st[2].audio_kbps == 128);
    /* a 1280-wide rendition of a narrower source is an upscale too */
    CHECK_INT(ffmpeg_profile_ladder(&p, 960, 720, st), 2);
    CHECK(st[0].height == 480 && st[1].height == 240);
    /* nothing fits: the source's size with the smallest rendition's bitrates */
    CHECK_INT(ffmpeg_profile_ladder(&p, 200, 151, st), 1);
    CHECK(st[0].height == 150 && st[0].width == 0 && st[0].audio_kbps == 128);

    int h[] = {720, 360, 240};
    CHECK_INT(ffmpeg_profile_ladder(&p, 1280, 720, st), 3);
    encode_plan e = {.input = "file:/u/a.mp4", .demuxer = "mov", .protocols = "file",
                     .formats = "mov", .heights = h, .n = 3, .audio = true, .out_dir = "/m/.j.tmp",
                     .threads = 2, .steps = st};
    argv_buf b;
    CHECK(ffmpeg_encode_argv(&b, &e) > 0);
    CHECK(has_pair(&b, "-filter_complex", "[0:v]split=3[s0][s1][s2];[s0]scale=1280:720[o0];"
                                          "[s1]scale=-2:360[o1];[s2]scale=-2:240[o2]"));
    CHECK(has_pair(&b, "-b:v:0", "2880k") && has_pair(&b, "-b:v:1", "700k") &&
          has_pair(&b, "-b:v:2", "960k"));
    /* two audio streams, numbered among themselves */
    CHECK(has_pair(&b, "-b:a:0", "96k") && has_pair(&b, "-b:a:1", "128k"));
    CHECK(index_of(&b, "-b:a") < 0 && index_of(&b, "-b:a:2") < 0);
    CHECK(has_pair(&b, "-var_stream_map", "v:0,a:0 v:1 v:2,a:1"));
    /* a source without audio: none anywhere */
    e.audio = false;
    CHECK(ffmpeg_encode_argv(&b, &e) > 0);
    CHECK(has_pair(&b, "-var_stream_map", "v:0 v:1 v:2"));
    CHECK(index_of(&b, "aac") < 0 && index_of(&b, "-b:a:0") < 0);
}

static void test_parse_probe(void)
{
    probe_info pi;
    char msg[100];
    const char *ok = "{\"streams\":[{\"codec_type\":\"audio\"},{\"codec_type\":\"video\",\"width\":1280,"
                     "\"height\":720}],\"format\":{\"format_name\":\"mov,mp4,m4a,3gp,3g2,mj2\","
                     "\"duration\":\"10.000000\"}}";
    CHECK_INT(ffmpeg_parse_probe(ok, strlen(ok), &pi, msg, sizeof msg), 0);
    CHECK(pi.width == 1280 && pi.height == 720 && pi.audio && pi.duration == 10.0);
    CHECK_STR(pi.format, "mov,mp4,m4a,3gp,3g2,mj2");
    const char *noaudio = "{\"streams\":[{\"codec_type\":\"video\",\"width\":2,\"height\":2}],\"format\":{}}";
    CHECK_INT(ffmpeg_parse_probe(noaudio, strlen(noaudio), &pi, msg, sizeof msg), 0);
    CHECK(!pi.audio && pi.duration == 0);
    const char *bad[] = {"", "{}", "{\"streams\":[]}", "{\"streams\":[{\"codec_type\":\"audio\"}]}",
                         "{\"streams\":[{\"codec_type\":\"video\",\"width\":\"1280\",\"height\":720}]}",
                         "{\"streams\":{}}", "[1,2]", "{\"streams\":[{\"codec_type\":\"video\",\"width\":-5,\"height\":-5}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(ffmpeg_parse_probe(bad[i], strlen(bad[i]), &pi, msg, sizeof msg), 2);
        CHECK_STR(msg, "the input has no video stream");
    }
    /* frame rate and count; frames of any size parse (the budget refuses them) */
    const char *rates = "{\"streams\":[{\"codec_type\":\"video\",\"width\":99999,\"height\":720,"
                        "\"avg_frame_rate\":\"0/0\",\"r_frame_rate\":\"30000/1001\",\"nb_frames\":\"50\"}],"
                        "\"format\":{\"duration\":\"2\"}}";
    CHECK_INT(ffmpeg_parse_probe(rates, strlen(rates), &pi, msg, sizeof msg), 0);
    CHECK(pi.width == 99999 && pi.fps > 29.97 && pi.fps < 29.98 && pi.frames == 50);
    CHECK(ffmpeg_frames(&pi) > 59.9 && ffmpeg_frames(&pi) < 60); /* 2 s x 29.97 > 50 */
    const char *norate = "{\"streams\":[{\"codec_type\":\"video\",\"width\":8,\"height\":8,"
                         "\"avg_frame_rate\":\"1/0\",\"nb_frames\":\"N/A\"}],\"format\":{\"duration\":\"1\"}}";
    CHECK_INT(ffmpeg_parse_probe(norate, strlen(norate), &pi, msg, sizeof msg), 0);
    CHECK(pi.fps == 0 && pi.frames == 0 && ffmpeg_frames(&pi) == 60); /* unknown rate: 60 fps */
    /* a long answer (ffprobe of a file with a huge tag) still parses */
    size_t n = 300000;
    char *big = malloc(n + 400);
    int l = snprintf(big, 400, "{\"format\":{\"format_name\":\"matroska,webm\",\"duration\":\"1.5\",\"tags\":{\"comment\":\"");
    memset(big + l, 'x', n);
    strcpy(big + l + n, "\"}},\"streams\":[{\"codec_type\":\"video\",\"width\":320,\"height\":240}]}");
    CHECK_INT(ffmpeg_parse_probe(big, strlen(big), &pi, msg, sizeof msg), 0);
    CHECK(pi.width == 320 && pi.duration == 1.5);
    free(big);
    /* a phone's portrait video (a display matrix turning it) and non-square pixels */
    const char *rot = "{\"streams\":[{\"codec_type\":\"video\",\"width\":320,\"height\":180,"
                      "\"sample_aspect_ratio\":\"1:1\",\"side_data_list\":[{\"rotation\":-90}]}]}";
    CHECK_INT(ffmpeg_parse_probe(rot, strlen(rot), &pi, msg, sizeof msg), 0);
    CHECK(pi.width == 180 && pi.height == 320 && pi.sar == 1);
    const char *ana = "{\"streams\":[{\"codec_type\":\"video\",\"width\":720,\"height\":576,"
                      "\"sample_aspect_ratio\":\"64:45\",\"side_data_list\":[{\"rotation\":180}]}]}";
    CHECK_INT(ffmpeg_parse_probe(ana, strlen(ana), &pi, msg, sizeof msg), 0);
    CHECK(pi.width == 720 && pi.height == 576 && fabs(pi.sar - 64.0 / 45) < 1e-9);
    const char *nosar = "{\"streams\":[{\"codec_type\":\"video\",\"width\":8,\"height\":8,"
                        "\"sample_aspect_ratio\":\"0:1\"}]}";
    CHECK_INT(ffmpeg_parse_probe(nosar, strlen(nosar), &pi, msg, sizeof msg), 0);
    CHECK(pi.sar == 1);
}

/* What an upload may cost: each limit refuses with its own message. */
static void test_budget(void)
{
    encode_budget b = {.max_pixels = 4096 * 2176, .max_duration = 3600, .max_megapixels = 1000};
    char msg[300];
    CHECK_INT(ffmpeg_budget_check(&b, 1920, 1080, 600, 999, msg, sizeof msg), 0);
    CHECK_INT(ffmpeg_budget_check(&b, 4096, 4096, 0.1, 1, msg, sizeof msg), 9);
    CHECK_STR(msg, "the input's frames are 4096x4096 (16777216 pixels): more than the 8912896 pixels "
                   "a frame may have");
    CHECK_INT(ffmpeg_budget_check(&b, 320, 240, 3601, 1, msg, sizeof msg), 9);
    CHECK_STR(msg, "the input lasts 3601 s: longer than the 3600 s an input may last");
    CHECK_INT(ffmpeg_budget_check(&b, 320, 240, 10, 1001, msg, sizeof msg), 9);
    CHECK_STR(msg, "decoding the input costs 1001 million pixels (pixels x frames): more than the "
                   "1000 million an input may cost");
    /* -t: the duration limit, or where the pixels run out first */
    CHECK(ffmpeg_budget_seconds(&b, 160, 120, 1) == 3600);
    double t = ffmpeg_budget_seconds(&b, 1920, 1080, 25); /* 1e9 / (1920 * 1080 * 25) */
    CHECK(t > 19.29 && t < 19.30);
    CHECK(ffmpeg_budget_seconds(&b, 1920, 1080, 0) < t); /* unknown rate: 60 fps */
}

/* segment_ok's stand-in: names starting with "gone" are missing. */
static int seg_present(void *arg, const char *name)
{
    (*(int *)arg)++;
    return strncmp(name, "gone", 4) == 0 ? -1 : 0;
}

/* Playlists read back from an encode's outputs: what ffmpeg writes passes,
 * what a full disk or a hostile file leaves does not. */
static void test_hls_check(void)
{
    char msg[200];
    double total = 0;
    int segs = 0, calls = 0;
    const char *ok = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n"
                     "#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:4.000000,\nseg000.ts\n#EXTINF:2.500000,\n"
                     "seg001.ts\n#EXT-X-ENDLIST\n";
    CHECK_INT(hls_check_media(ok, strlen(ok), seg_present, &calls, &total, &segs, msg, sizeof msg), 0);
    CHECK(total == 6.5 && segs == 2 && calls == 2);
    const char *crlf = "#EXTM3U\r\n#EXTINF:1,\r\na.ts\r\n#EXT-X-ENDLIST";
    CHECK_INT(hls_check_media(crlf, strlen(crlf), NULL, NULL, &total, &segs, msg, sizeof msg), 0);
    struct {
        const char *text, *why;
    } bad[] = {
        {"", "is empty"},
        {"#EXTM3", "is not a playlist"},
        {"#EXTM3U\n#EXTINF:4,\nseg000.ts\n", "is cut short"},
        {"#EXTM3U\n#EXT-X-ENDLIST\n", "has no segments"},
        {"#EXTM3U\n#EXTINF:4,\nseg000.ts\n#EXTINF:4,\n#EXT-X-ENDLIST\n", "is cut short"},
        {"#EXTM3U\n#EXTINF:4,\ngone.ts\n#EXT-X-ENDLIST\n", "names a segment that is missing, empty or cut short"},
        {"#EXTM3U\n#EXTINF:4,\n../other/seg000.ts\n#EXT-X-ENDLIST\n", "names a segment it should not"},
        {"#EXTM3U\n#EXTINF:4,\n.hidden.ts\n#EXT-X-ENDLIST\n", "names a segment it should not"},
        {"#EXTM3U\n#EXTINF:4,\nhttp://x/a.ts\n#EXT-X-ENDLIST\n", "names a segment it should not"},
        {"#EXTM3U\nseg000.ts\n#EXT-X-ENDLIST\n", "names a segment it should not"},
        {"#EXTM3U\n#EXTINF:-1,\nseg000.ts\n#EXT-X-ENDLIST\n", "has a bad segment duration"},
        {"#EXTM3U\n#EXTINF:nan,\nseg000.ts\n#EXT-X-ENDLIST\n", "has a bad segment duration"},
        {"#EXTM3U\n#EXTINF:4x,\nseg000.ts\n#EXT-X-ENDLIST\n", "has a bad segment duration"},
        {"#EXTM3U\n#EXTINF:4,\nseg000.ts\n#EXT-X-ENDLIST\nseg001.ts\n", "goes on after its end"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(hls_check_media(bad[i].text, strlen(bad[i].text), seg_present, &calls, &total, &segs,
                                  msg, sizeof msg),
                  -1);
        CHECK_STR(msg, bad[i].why);
    }
    const char nul[] = "#EXTM3U\n#EXTINF:4,\nseg\0.ts\n#EXT-X-ENDLIST\n";
    CHECK_INT(hls_check_media(nul, sizeof nul - 1, NULL, NULL, &total, &segs, msg, sizeof msg), -1);

    const char *master = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1280x720\n"
                         "v0/index.m3u8\n\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv1/index.m3u8\n";
    CHECK_INT(hls_check_master(master, strlen(master), 2, false, msg, sizeof msg), 0);
    CHECK_INT(hls_check_master(master, strlen(master), 3, false, msg, sizeof msg), -1);
    CHECK_STR(msg, "the master playlist names 2 of the 3 renditions");
    CHECK_INT(hls_check_master(master, strlen(master), 1, false, msg, sizeof msg), -1);
    CHECK_INT(hls_check_master("", 0, 1, false, msg, sizeof msg), -1);
    CHECK_STR(msg, "the master playlist is empty");
    const char *swapped = "#EXTM3U\n#EXT-X-STREAM-INF:B=1\nv1/index.m3u8\n#EXT-X-STREAM-INF:B=1\nv0/index.m3u8\n";
    CHECK_INT(hls_check_master(swapped, strlen(swapped), 2, false, msg, sizeof msg), -1);
    const char *noinf = "#EXTM3U\nv0/index.m3u8\n";
    CHECK_INT(hls_check_master(noinf, strlen(noinf), 1, false, msg, sizeof msg), -1);
    /* the audio-only variant last: its codec named, no picture size */
    const char *audio = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=2x2,CODECS=\"avc1.64001e,"
                        "mp4a.40.2\"\nv0/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="
                        "\"mp4a.40.2\"\nv1/index.m3u8\n";
    CHECK_INT(hls_check_master(audio, strlen(audio), 2, true, msg, sizeof msg), 0);
    CHECK_INT(hls_check_master(audio, strlen(audio), 2, false, msg, sizeof msg), 0);
    CHECK_INT(hls_check_master(master, strlen(master), 2, true, msg, sizeof msg), -1);
    CHECK_HAS(msg, "audio-only");
}

static void test_reason(void)
{
    char out[256];
    ffmpeg_reason("file:/srv/var/upload/uploads/junk.mp4: Invalid data found when processing input", out, sizeof out);
    CHECK_STR(out, "Invalid data found when processing input");
    ffmpeg_reason("/srv/x.mp4: No such file or directory", out, sizeof out);
    CHECK_STR(out, "No such file or directory");
    ffmpeg_reason("Error opening input file /srv/x.mp4.", out, sizeof out);
    CHECK_STR(out, "");
    ffmpeg_reason("[mov,mp4 @ 0x55] moov atom not found", out, sizeof out);
    CHECK_STR(out, "[mov,mp4 @ 0x55] moov atom not found");
    ffmpeg_reason("a: b: see file:x", out, sizeof out);
    CHECK_STR(out, "");
    ffmpeg_reason(NULL, out, sizeof out);
    CHECK_STR(out, "");
    ffmpeg_reason("x: bad\001thing", out, sizeof out);
    CHECK_STR(out, "bad thing");
}

/* Segment lists name one file a line: a name with a newline (or any control
 * character) could add a line of its own, and a symlink could name any file;
 * both are skipped. */
static void test_scan_dir(void)
{
    char dir[] = "/tmp/mediagate-scan-XXXXXX", p[512];
    CHECK(mkdtemp(dir) != NULL);
    const char *names[] = {"a.ts", "b\nfile:/etc/passwd.ts", "c\r.ts", ".hidden.ts", "empty.ts", "d'q.ts"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        FILE *f = fopen(p, "w");
        if (f) {
            if (strcmp(names[i], "empty.ts") != 0)
                fputs("x", f);
            fclose(f);
        }
    }
    snprintf(p, sizeof p, "%s/link.ts", dir);
    CHECK(symlink("/etc/passwd", p) == 0);
    rec_files out = {0};
    CHECK_INT(scan_dir(dir, "", ".ts", "mpegts", &out), 0);
    CHECK_INT(out.n, 2);
    for (size_t i = 0; i < out.n; i++) {
        CHECK(strchr(out.v[i].path, '\n') == NULL && strstr(out.v[i].path, "link") == NULL);
        CHECK_STR(out.v[i].demuxer, "mpegts");
    }
    files_free(&out);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* On s3 storage the PUT segments go to the store as one object: joined in
 * the order given, byte for byte, into a file under TMPDIR; a segment that
 * is gone (or a symlink) leaves no file. Keys sort in broadcast order. */
static void test_join_segments(void)
{
    char dir[] = "/tmp/mediagate-join-XXXXXX", p[512], joined[512], buf[64];
    CHECK(mkdtemp(dir) != NULL);
    setenv("TMPDIR", dir, 1);
    rec_files seg = {0};
    const char *parts[] = {"first-", "second-", "third"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/index%zu.ts", dir, i);
        FILE *f = fopen(p, "w");
        CHECK(f != NULL);
        if (f) {
            fputs(parts[i], f);
            fclose(f);
        }
        CHECK_INT(files_add(&seg, p, "mpegts", 0), 0);
    }
    CHECK_INT(join_segments(&seg, joined, sizeof joined), 0);
    CHECK(strncmp(joined, dir, strlen(dir)) == 0);
    FILE *f = fopen(joined, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    CHECK_STR(buf, "first-second-third");
    unlink(joined);
    snprintf(p, sizeof p, "%s/index1.ts", dir);
    unlink(p);
    CHECK(symlink("/etc/passwd", p) == 0);
    CHECK_INT(join_segments(&seg, joined, sizeof joined), -1);
    CHECK(access(joined, F_OK) != 0);
    files_free(&seg);
    char k1[128], k2[128];
    archive_key(k1, sizeof k1, "5b0c0000-0000-4000-8000-000000000000", 9, "flv");
    archive_key(k2, sizeof k2, "5b0c0000-0000-4000-8000-000000000000", 10, "mpegts");
    CHECK_STR(k1, "recordings/5b0c0000-0000-4000-8000-000000000000/0009.flv");
    CHECK_STR(k2, "recordings/5b0c0000-0000-4000-8000-000000000000/0010.ts");
    CHECK(strcmp(k1, k2) < 0 && store_key_ok(k1) && store_key_ok(k2));
    unsetenv("TMPDIR");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* ffmpeg's out_time_us against the input's duration: 0 to 99 while
 * encoding, whatever ffmpeg reports (its output may run past the probed
 * duration); 100 is COMPLETE's alone. */
static void test_progress(void)
{
    CHECK_INT(ffmpeg_progress_pct(0, 10), 0);
    CHECK_INT(ffmpeg_progress_pct(2500000, 10), 25);
    CHECK_INT(ffmpeg_progress_pct(9899999, 10), 98);
    CHECK_INT(ffmpeg_progress_pct(9900000, 10), 99);
    CHECK_INT(ffmpeg_progress_pct(10000000, 10), 99); /* all of it written, still encoding */
    CHECK_INT(ffmpeg_progress_pct(12000000, 10), 99); /* past the probed duration */
    CHECK_INT(ffmpeg_progress_pct(9223372036854775807LL, 0.001), 99);
    CHECK_INT(ffmpeg_progress_pct(1000, 0), -1); /* duration unknown */
    CHECK_INT(ffmpeg_progress_pct(1000, -5), -1);
    CHECK_INT(ffmpeg_progress_pct(1000, NAN), -1);
    CHECK_INT(ffmpeg_progress_pct(-1, 10), -1);
    int last = 0;
    bool rising = true;
    for (long long us = 0; us <= 20000000; us += 77777) {
        int pct = ffmpeg_progress_pct(us, 7.3);
        rising = rising && pct >= last && pct <= 99;
        last = pct;
    }
    CHECK(rising); /* never back, never past 99 */
    CHECK_INT(last, 99);
}

int main(void)
{
    test_progress();
    test_scan_dir();
    test_join_segments();
    test_backoff();
    test_allowlist();
    test_probe_argv();
    test_encode_argv();
    test_encode_argv_extras();
    test_ladder();
    test_profile_ladder();
    test_parse_probe();
    test_budget();
    test_hls_check();
    test_reason();
    return CHECK_DONE("worker");
}

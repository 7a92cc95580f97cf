# shellcheck shell=bash
# Shared by bench/encode.sh, encode_extras.sh and vod.sh: the release binary,
# the upload stack, and the local encoder's ffmpeg command for a 720p input
# with audio (app/worker/ffmpeg.c, ffmpeg_encode_argv, without its
# whitelists), to run by hand beside the worker.

# bench_binary: sets MG_BIN to a release build unless it is set.
bench_binary() {
    if [ -z "${MG_BIN:-}" ]; then
        [ -f /tmp/build-bench/build.ninja ] || meson setup /tmp/build-bench --buildtype=release >/dev/null
        meson compile -C /tmp/build-bench >/dev/null
        MG_BIN=/tmp/build-bench/mediagate
    fi
    export MG_BIN MEDIAGATE_ENCODE_NICE=0 MEDIAGATE_ACCESS_LOG=off
}

# plain_ladder INPUT DIR: the 720/480/360 ladder into DIR.
plain_ladder() {
    mkdir -p "$2"
    ffmpeg -nostdin -y -hide_banner -loglevel error -i "$1" -filter_complex \
        "[0:v]split=3[s0][s1][s2];[s0]scale=-2:720[o0];[s1]scale=-2:480[o1];[s2]scale=-2:360[o2]" \
        -map '[o0]' -map 0:a:0 -map '[o1]' -map 0:a:0 -map '[o2]' -map 0:a:0 \
        -c:v libx264 -preset veryfast -threads 2 -g 48 -sc_threshold 0 \
        -b:v:0 2880k -b:v:1 1920k -b:v:2 1440k -c:a aac -b:a 128k \
        -f hls -hls_time 4 -hls_playlist_type vod -hls_segment_filename "$2/v%v/seg%03d.ts" \
        -master_pl_name master.m3u8 -var_stream_map "v:0,a:0 v:1,a:1 v:2,a:2" "$2/v%v/index.m3u8"
}

# bench_upload_stack: after scripts/lib.sh is sourced, its stack in a fresh
# $RUN with the upload snippet, media and uploads under $RUN, no access log.
bench_upload_stack() {
    export NGINX_ACCESS_LOG=${NGINX_ACCESS_LOG:-off}   # benchmarks measure without an access log
    RUN=$(mktemp -d /tmp/mediagate-bench.XXXXXX)
    export RUN MEDIAGATE_MEDIA_DIR=$RUN/media MEDIAGATE_UPLOADS_DIR=$RUN/upload/uploads
    NGINX_SITE_EXTRA=$(upload_conf) || exit 1
    export NGINX_SITE_EXTRA
    stack_up
}

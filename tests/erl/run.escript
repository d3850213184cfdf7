#!/usr/bin/env escript
%% -*- erlang -*-
%%! -noshell
%%
%% Runs one corpus scenario against the REAL emulator and prints everything
%% Erlang observes, one line each, in ~w format with ports shown as the atom
%% `port` and pids as `pid`:
%%
%%   escript tests/erl/run.escript DriverDir DriverName Scenario
%%   escript tests/erl/run.escript DriverDir DriverName load
%%
%% Lines: "msg T" (a message the script received), "control T" / "call T"
%% (port_control / erlang:port_call results, `badarg` when they raise),
%% "wait Ms" (a wait step starts), "command T" (port_command when it does not return true), "open T" (an
%% open_port that raised), "load T" (erl_ddll:load_driver's result, `load`
%% scenario only). tests/test_corpus.c runs the same scenarios in drvcheck;
%% the step lists below mirror its table, keep both in sync.
%%
%% Steps:
%%   {open, Opts}        open_port({spawn_driver, Name}, Opts)
%%   {cmd, [Bin...]}     port_command with a list of binaries. ERTS copies
%%                       heap binaries (<= 64 bytes) into one shared segment
%%                       and passes larger (refc) binaries as their own
%%                       segments of outputv's ErlIOVec; [] = no segment
%%                       (vsize 1). The C side applies the same rule.
%%   {ctl, Op, Bytes}    port_control
%%   {call, Op, Term}    erlang:port_call
%%   close               port_close/1
%%   bang_close          Port ! {self(), close}
%%   {wait, Ms}          collect messages for Ms milliseconds
%% After every step, messages are collected until none arrived for
%% settle(Driver) ms.
%% The script traps exits, so a port's exit reason shows as a message.
-mode(compile).

%% 50 ms, short enough for the timer scenario's 200 ms timer not to fire
%% between two steps. The async scenario waits longer: on a loaded machine
%% an async job can take more than 50 ms, and a reply still on its way when
%% the port closes is lost, which drvcheck (which always delivers it) would
%% not show.
settle("async_drv") -> 500;
settle(_) -> 50.

main([Dir, Name, "load"]) ->
    out("load", erl_ddll:load_driver(Dir, Name));
main([Dir, Name, Scenario]) ->
    case erl_ddll:load_driver(Dir, Name) of
        ok ->
            process_flag(trap_exit, true),
            run(Name, steps(Scenario), undefined);
        Err ->
            out("load", Err),
            halt(1)
    end;
main(_) ->
    io:format(standard_error,
              "usage: run.escript DriverDir DriverName Scenario|load~n", []),
    halt(2).

%% A pattern of N bytes, 0,1,..,255,0,1,.. (the C side's "#N").
big(N) -> list_to_binary([I rem 256 || I <- lists:seq(0, N - 1)]).

steps("echo_list") ->
    [{open, []}, {cmd, [<<"hi">>]}, {cmd, [<<"ab">>, <<"cd">>]}, {cmd, []},
     {ctl, 1, []}, {ctl, 2, []}, close];
steps("echo_binary") ->
    [{open, [binary]}, {cmd, [<<"hi">>]}, {cmd, [<<"ab">>, <<"cd">>]},
     {cmd, [<<"ab">>, big(300), <<"cd">>]}, {cmd, []}, {ctl, 1, []}, close];
steps("queue") ->
    [{open, []}, {cmd, [<<"hello">>]}, {cmd, [<<"wor">>, <<"ld!">>]},
     {ctl, 3, []}, {ctl, 1, []}, {ctl, 2, [3]}, {ctl, 3, []},
     {cmd, [big(100)]}, {ctl, 1, []}, {ctl, 2, [100]}, {ctl, 2, [9]},
     {ctl, 3, []}, bang_close, {wait, 500}];
steps("timer") ->
    [{open, []}, {ctl, 1, [0, 0, 1, 244]}, {ctl, 3, []}, {ctl, 2, []},
     {ctl, 3, []}, {wait, 600}, {ctl, 1, [0, 0, 0, 200]},
     {ctl, 1, [0, 0, 2, 88]}, {wait, 400}, {wait, 400}, {ctl, 3, []},
     {ctl, 1, [0, 0, 0, 0]}, {ctl, 4, []}, close];
steps("pipe") ->
    [{open, [binary]}, {cmd, [<<"ping">>]}, {cmd, [<<"ab">>, <<"c">>]}, close];
steps("async") ->
    [{open, [binary]}, {cmd, [<<"abc">>]}, {cmd, [<<"hello">>]}, {cmd, []},
     close];
steps("term") ->
    [{open, []}, {ctl, 1, []}, {ctl, 2, []}, {ctl, 3, []}, {ctl, 4, []},
     {ctl, 5, []}, close];
steps("call") ->
    [{open, []}, {call, 1, 21}, {call, 1, hello},
     {call, 1, {a, "str", [1, 2], -5}}, {call, 1, lists:duplicate(300, $a)},
     {call, 2, x}, close];
steps("control_bin") ->
    [{open, []}, {ctl, 1, []}, {ctl, 2, [10]}, {ctl, 2, [100]}, {ctl, 3, []},
     close];
steps("bad_const_entry") ->
    [{open, []}, {cmd, [<<"hi">>]}, close];
steps("bad_flags") ->
    [{open, []}, {cmd, [<<"hi">>]}, close].

run(_Name, [], _Port) ->
    ok;
run(Name, [Step | Rest], Port0) ->
    Port = step(Name, Step, Port0),
    collect(settle(Name)),
    run(Name, Rest, Port).

step(Name, {open, Opts}, _) ->
    try open_port({spawn_driver, Name}, Opts)
    catch error:Reason -> out("open", Reason), undefined
    end;
step(_, {cmd, Segs}, P) ->
    case catch port_command(P, Segs) of
        true -> ok;
        Other -> out("command", strip(Other))
    end,
    P;
step(_, {ctl, Op, Data}, P) ->
    out("control", catch_badarg(fun() -> port_control(P, Op, Data) end)),
    P;
step(_, {call, Op, Term}, P) ->
    out("call", catch_badarg(fun() -> erlang:port_call(P, Op, Term) end)),
    P;
step(_, close, P) ->
    port_close(P),
    P;
step(_, bang_close, P) ->
    P ! {self(), close},
    P;
step(_, {wait, Ms}, P) ->
    io:format("wait ~w~n", [Ms]),
    collect(erlang:monotonic_time(millisecond) + Ms, deadline),
    P.

catch_badarg(F) ->
    try F() catch error:badarg -> badarg end.

strip({'EXIT', {Reason, _Stack}}) -> Reason;
strip(Other) -> Other.

%% Prints messages until none arrives for Ms milliseconds.
collect(Ms) ->
    receive Msg -> out("msg", Msg), collect(Ms)
    after Ms -> ok
    end.

%% Prints messages until the deadline (monotonic ms) has passed.
collect(Deadline, deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive Msg -> out("msg", Msg), collect(Deadline, deadline)
    after Left -> ok
    end.

out(Kind, Term) ->
    io:format("~s ~w~n", [Kind, norm(Term)]).

%% Ports and pids differ between runs (and between erl and drvcheck).
norm(T) when is_port(T) -> port;
norm(T) when is_pid(T) -> pid;
norm(T) when is_tuple(T) -> list_to_tuple(norm(tuple_to_list(T)));
norm([H | T]) -> [norm(H) | norm(T)];
norm(T) when is_map(T) ->
    maps:from_list([{norm(K), norm(V)} || {K, V} <- maps:to_list(T)]);
norm(T) -> T.

// The least a `dotnet app.dll` start costs on this machine: host, runtime, one line of output.
Console.WriteLine("hello");

// Placeholder host: the node process (HOCON loading, cluster membership, HTTP API) arrives with the next issue.
Console.Error.WriteLine("cluster-node: the node host is not built yet; see README.md.");
return 2;
